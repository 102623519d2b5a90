"""A fast-forward upgrade of a two-cell cloud, for real on the lab: a failure in cell2 stops it with
cell1 upgraded and cell2 untouched, and resume finishes it, each hop in the cloud's history."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from apps.clouds import services as clouds
from apps.clouds.models import Cloud, ReleaseChange
from apps.clouds.services import cloud_passwords
from apps.jobs import services
from apps.jobs.execution import execute_job
from apps.jobs.findings import job_findings
from apps.jobs.models import Job, JobState
from apps.jobs.tests.test_execution import assert_every_event_once, stored_output
from runner import lab
from runner.hops import HOPS
from runner.planner import DATA_PLANE_CONTAINERS
from runner.tests.lab_fixtures import LabCloud, cloud_inventory, deploy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ansible]

# One API controller; each cell has its own conductor and a compute, as in kolla's nova cells guide.
INVENTORY, HOSTS = cloud_inventory(1, 0, 2, cells=2, monitoring=0, cell_control=1)
CELL1, CELL2 = ("cell1-ctl1", "cmp1"), ("cell2-ctl1", "cmp2")


@pytest.fixture
def cells_cloud(catalog, tmp_path: Path, settings) -> Cloud:
    """The cloud in Ferry at 2023.1, its lab (in this test's directory) deployed at 2023.1."""
    settings.FERRY_VAR_DIR = str(tmp_path)
    settings.VAR_DIR = tmp_path
    (tmp_path / "inventory").write_text(INVENTORY)
    cloud = clouds.create_cloud(
        None,
        slug="cells",
        release="2023.1",
        distro_version="9",  # the lab's default for these releases, which deploy() below uses
        # What 2024.1 → 2025.1 needs: no enable_redis, no classic mirrored queues, no swift.
        globals_yml='kolla_base_distro: "rocky"\nenable_mariabackup: "yes"\n',
        passwords_yml="database_password: Ffu-Secret-23\nkeystone_admin_password: Ffu-Admin-23\n",
    )
    clouds.import_inventory_path(None, cloud, tmp_path / "inventory")
    assert sorted(cloud.cells.values_list("name", flat=True)) == ["cell1", "cell2"]
    root = lab.prepare_lab(tmp_path / "lab" / "cells", HOSTS)  # where the lab backend keeps the cloud
    deploy(LabCloud(root, INVENTORY, HOSTS, tmp_path / "deploy"), "2023.1")
    return cloud


def run(job: Job) -> Job:
    assert job.pk in services.dispatch()
    execute_job(job.pk, worker="test-worker")
    job.refresh_from_db()
    return job


def image_tags(root: Path, hosts: Iterable[str]) -> set[str]:
    """The image tags the containers of these lab hosts run."""
    return {c["tag"] for h in hosts for c in lab.read_host_state(root, h)["containers"].values()}


def running(root: Path, hosts: Iterable[str]) -> dict[str, dict]:
    """What each lab host runs: its containers and the checksums of their configuration."""
    states = {h: lab.read_host_state(root, h) for h in hosts}
    return {h: {"containers": s["containers"], "config": s["config"]} for h, s in states.items()}


def data_plane_stops(root: Path, hosts: Iterable[str]) -> dict[tuple[str, str], int]:
    """How often each data-plane container of these lab hosts was stopped, by (host, service)."""
    return {
        (host, name): container.get("stops", 0)
        for host in hosts
        for name, container in lab.read_host_state(root, host)["containers"].items()
        if lab.core.SERVICES_BY_NAME[name].container in DATA_PLANE_CONTAINERS
    }


def test_a_failure_in_cell2_stops_the_ffu_with_cell1_upgraded_and_resume_finishes_both_hops(
    cells_cloud, operator, no_worker, settings
):
    root = settings.VAR_DIR / "lab" / "cells"
    # Each cell2 host fails at its first task of an upgrade: the conductor at nova's, the compute at
    # Open vSwitch's (kolla upgrades it before nova). Only the first attempt: then the fault is fixed.
    params = {
        "target_release": "2025.1",
        "lab_fail": {host: ["upgrade"] for host in CELL2},
        "lab_fail_once": True,
    }
    cell2_before = running(root, CELL2)
    passwords_before = cloud_passwords(cells_cloud)
    computes = (CELL1[1], CELL2[1])
    data_plane_before = data_plane_stops(root, computes)
    assert data_plane_before
    job = run(services.launch_job(operator, cells_cloud, "ffu", params=params, confirmed=True))

    assert job.state == JobState.FAILED
    assert job.steps.get(state="failed").name == "Upgrade to 2024.1" and "Upgrade to 2024.1" in job.result
    failed = {(f.host, f.step) for f in job_findings(job) if f.severity == "failed"}
    assert failed == {(host, "Upgrade to 2024.1") for host in CELL2}
    messages = " ".join(f.message for f in job_findings(job))
    assert "upgrade of nova-cell-conductor failed on cell2-ctl1 (failure injected by lab_fail)" in messages
    assert image_tags(root, ("ctl1", *CELL1)) == {"2024.1-rocky-9"}
    assert image_tags(root, CELL2) == {"2023.1-rocky-9"}
    assert running(root, CELL2) == cell2_before  # not one container or configuration file changed
    schemas = lab.read_host_state(root, "ctl1")["mariadb"]["databases"]
    assert (schemas["nova_cell1"], schemas["nova_cell2"]) == ("2024.1", "2023.1")
    cells_cloud.refresh_from_db()
    assert cells_cloud.release.series == "2023.1" and cells_cloud.state == "degraded"
    assert not ReleaseChange.objects.filter(job_id=job.pk).exists()

    job = run(services.resume_job(operator, job, confirmed=True))

    assert job.state == JobState.SUCCEEDED, job.result
    assert image_tags(root, HOSTS) == {"2025.1-rocky-9"}
    # Both hops replaced the computes' containers in place: no data-plane container was stopped.
    assert data_plane_stops(root, computes) == data_plane_before
    cells_cloud.refresh_from_db()
    assert cells_cloud.release.series == "2025.1" and cells_cloud.state == "deployed"
    hops = ReleaseChange.objects.filter(cloud=cells_cloud).order_by("id")
    assert list(hops.values_list("from_release__series", "to_release__series", "job_id")) == [
        ("2023.1", "2024.1", job.pk),
        ("2024.1", "2025.1", job.pk),
    ]
    # The lab refuses a nova db sync while the previous release's online data migrations are owed:
    # the second hop passing says the first hop's ran on every nova database; these are the second's.
    database = lab.read_host_state(root, "ctl1")["mariadb"]
    nova = {name for name in database["databases"] if name == "nova" or name.startswith("nova_")}
    assert nova == {"nova", "nova_api", "nova_cell0", "nova_cell1", "nova_cell2"}
    assert {database["online_migrations"][name] for name in nova} == {"2025.1"}
    # Each hop's password merge stored what its target adds with the cloud, every secret kept: the
    # skip to 2024.1 adds an SSH key pair and a bcrypt salt among its plain passwords.
    stored = cloud_passwords(cells_cloud)
    assert {k: stored[k] for k in passwords_before} == passwords_before
    added = {*HOPS["2023.1", "2024.1"].new_passwords, *HOPS["2024.1", "2025.1"].new_passwords}
    assert added <= set(stored) and "haproxy_ssh_key" in added
    assert set(stored["haproxy_ssh_key"]) == {"private_key", "public_key"}
    # Both attempts' events, each stored once; no password, old or generated, in what they printed.
    assert_every_event_once(job)
    printed = stored_output(job)
    plain = [v for v in stored.values() if isinstance(v, str) and len(v) >= 8]
    assert plain and not [v for v in plain if v in printed]
