"""A cell rollout on the lab, with real ansible-playbook: it waits after the canary, then upgrades
the whole cloud, and only then records the cloud at the new release."""

from __future__ import annotations

import pytest
from django.conf import settings

from apps.clouds import services as cloud_services
from apps.clouds.models import ReleaseChange
from apps.jobs import services
from apps.jobs.execution import execute_job
from apps.jobs.models import Job, JobState, StepState
from runner import lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ansible]

# One controller and one compute per cell that also conducts it: the least a rollout needs.
INVENTORY = """
[control]
ctl01
[network]
ctl01
[monitoring]
ctl01
[storage]
ctl01
[compute]
cmp01
cmp02
[cell1-control]
cmp01
[cell1-compute]
cmp01
[cell1:children]
cell1-control
cell1-compute
[cell2-control]
cmp02
[cell2-compute]
cmp02
[cell2:children]
cell2-control
cell2-compute
"""
PASSWORDS = "database_password: Db-Pa55-Never-Shown\nkeystone_admin_password: Ks-Pa55-Never-Shown\n"


@pytest.fixture
def cells_cloud(catalog, tmp_path, settings):
    settings.FERRY_VAR_DIR = str(tmp_path)
    settings.VAR_DIR = tmp_path
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "multinode").write_text(INVENTORY)
    for cell in ("cell1", "cell2"):
        (inventory / "group_vars" / cell).write_text(
            f"nova_cell_name: {cell}\nnova_cell_compute_group: {cell}-compute\n"
            f"nova_cell_conductor_group: {cell}-control\n"
        )
    cloud = cloud_services.create_cloud(
        None,
        slug="cells",
        passwords_yml=PASSWORDS,
        globals_yml='kolla_base_distro: "rocky"\nenable_mariabackup: "yes"\n',
    )
    cloud_services.import_inventory_path(None, cloud, inventory)
    assert sorted(cloud.cells.values_list("name", flat=True)) == ["cell1", "cell2"]
    return cloud


def run(job: Job) -> Job:
    """What a worker does once the job is running: claim it and run what it still holds."""
    execute_job(job.pk, worker="test-worker")
    job.refresh_from_db()
    return job


def nova_compute_release(host: str) -> str:
    return lab.read_host_state(settings.VAR_DIR / "lab" / "cells", host)["containers"]["nova-compute"][
        "release"
    ]


def container_releases(host: str) -> set[str]:
    containers = lab.read_host_state(settings.VAR_DIR / "lab" / "cells", host)["containers"]
    return {c["release"] for c in containers.values()}


def cell_releases(cloud) -> dict[str, str | None]:
    return dict(cloud.cells.values_list("name", "release__series"))


def test_a_cell_rollout_waits_after_the_canary_and_finishes_after_continue(cells_cloud, operator, no_worker):
    deploy = services.launch_job(
        operator, cells_cloud, "deploy", params={"release": "2025.1"}, confirmed=True
    )
    assert deploy.pk in services.dispatch()
    assert run(deploy).state == JobState.SUCCEEDED, deploy.result

    job = services.launch_job(
        operator,
        cells_cloud,
        "cell-rollout",
        params={"target_release": "2025.2", "canary": "cell2"},
        confirmed=True,
    )
    assert job.pk in services.dispatch()
    job = run(job)
    assert job.state == JobState.WAITING, job.result
    gate = job.steps.get(gate=True)
    assert gate.name == "Upgrade canary cell cell2" and gate.state == StepState.SUCCEEDED
    assert job.steps.filter(position__gt=gate.position).exclude(state=StepState.PENDING).count() == 0
    cells_cloud.refresh_from_db()
    assert cells_cloud.release.series == "2025.1" and cells_cloud.state == "upgrading"
    # The canary's computes run the new release; the other cell's have not moved.
    assert nova_compute_release("cmp02") == "2025.2" and nova_compute_release("cmp01") == "2025.1"
    assert cell_releases(cells_cloud) == {"cell1": "2025.1", "cell2": "2025.2"}

    job = services.continue_job(operator, job, reason="canary cell2 answers")
    job = run(job)
    assert job.state == JobState.SUCCEEDED, job.result
    assert job.steps.values("attempt").distinct().count() == 1  # no new attempt
    # The final check passed: every container of every host runs the new release, not nova's only
    # (haproxy, keepalived, keystone… were upgraded before nova, the rest after it).
    assert job.steps.get(action="check").state == StepState.SUCCEEDED
    for host in ("ctl01", "cmp01", "cmp02"):
        assert container_releases(host) == {"2025.2"}, host
    cells_cloud.refresh_from_db()
    assert cells_cloud.release.series == "2025.2" and cells_cloud.state == "deployed"
    hops = ReleaseChange.objects.filter(cloud=cells_cloud, job=job)
    assert [c.to_release.series for c in hops] == ["2025.2"]
    assert cell_releases(cells_cloud) == {"cell1": "2025.2", "cell2": "2025.2"}
    assert set(cells_cloud.hosts.values_list("release__series", flat=True)) == {"2025.2"}
