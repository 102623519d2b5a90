"""A cell rollout records the release each cell and host runs as it goes, and the cloud's release
(with its upgrade history) only once every step, the final check included, succeeded."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clouds.models import Cloud, CloudState, Host, ReleaseChange
from apps.jobs import execution, services
from apps.jobs.models import Job, JobState, Step, StepState

# Committed: the worker's heartbeat thread has its own connection and must see the job.
pytestmark = pytest.mark.django_db(transaction=True)
ROLLOUT = {"target_release": "2025.2", "canary": "cell2"}


@pytest.fixture
def check_fails(monkeypatch):
    """Every step succeeds without Ansible, except the final check (set ``ok`` to let it pass)."""
    outcome = {"ok": False}

    def run(job, step, *args, **kwargs):
        ok = step.action != "check" or outcome["ok"]
        state = StepState.SUCCEEDED if ok else StepState.FAILED
        Step.objects.filter(pk=step.pk).update(state=state, started_at=timezone.now(), rc=0 if ok else 2)
        return "successful" if ok else "failed"

    monkeypatch.setattr(execution, "_run_step", run)
    return outcome


def start(job: Job) -> Job:
    execution.execute_job(job.pk, worker="w1")
    job.refresh_from_db()
    return job


def releases(cloud: Cloud) -> dict[str, str | None]:
    cells = {
        c.name: c.release.series if c.release_id else None for c in cloud.cells.select_related("release")
    }
    return cells


def host_releases(cloud: Cloud, cell: str) -> set[str | None]:
    hosts = Host.objects.filter(cloud=cloud, cell__name=cell).select_related("release")
    return {h.release.series if h.release_id else None for h in hosts}


def test_the_canary_cell_and_its_hosts_run_the_target_while_the_rollout_waits(
    operator, demo_cloud, no_worker, check_fails
):
    job = services.launch_job(operator, demo_cloud, "cell-rollout", params=ROLLOUT, confirmed=True)
    assert job.pk in services.dispatch()
    job = start(job)
    assert job.state == JobState.WAITING
    assert releases(demo_cloud) == {"cell1": None, "cell2": "2025.2"}
    assert host_releases(demo_cloud, "cell2") == {"2025.2"} and host_releases(demo_cloud, "cell1") == {None}
    assert Cloud.objects.get(pk=demo_cloud.pk).release.series == "2025.1"
    entry = AuditEntry.objects.filter(action="cloud.running_release").latest("id")
    assert entry.detail == {"release": "2025.2", "hosts": 4, "cells": ["cell2"], "job": job.pk}


def test_a_failed_final_check_leaves_the_cloud_at_its_release_degraded_with_no_history_hop(
    operator, demo_cloud, no_worker, check_fails
):
    job = services.launch_job(operator, demo_cloud, "cell-rollout", params=ROLLOUT, confirmed=True)
    services.dispatch()
    job = services.continue_job(operator, start(job), reason="canary answers")
    job = start(job)
    assert job.state == JobState.FAILED and "Check services on 2025.2" in job.result
    cloud = Cloud.objects.get(pk=demo_cloud.pk)
    assert cloud.release.series == "2025.1" and cloud.state == CloudState.DEGRADED
    assert not ReleaseChange.objects.filter(job_id=job.pk).exists()
    # Both cells' nova moved: that much is recorded, and shown, while the cloud is not.
    assert releases(demo_cloud) == {"cell1": "2025.2", "cell2": "2025.2"}

    check_fails["ok"] = True
    job = services.resume_job(operator, job, confirmed=True)
    services.dispatch()
    job = start(job)
    assert job.state == JobState.SUCCEEDED
    cloud.refresh_from_db()
    assert cloud.release.series == "2025.2" and cloud.state == CloudState.DEPLOYED
    assert [c.to_release.series for c in ReleaseChange.objects.filter(job_id=job.pk)] == ["2025.2"]
    # The check completes the release for the whole cloud: API controllers too.
    assert set(Host.objects.filter(cloud=cloud).values_list("release__series", flat=True)) == {"2025.2"}


def test_a_cell_rollout_is_refused_while_nova_safety_upgrade_is_on(operator, demo_cloud, no_worker):
    Cloud.objects.filter(pk=demo_cloud.pk).update(
        globals_yml=demo_cloud.globals_yml + '\nnova_safety_upgrade: "yes"\n'
    )
    with pytest.raises(ValidationError) as refused:
        services.launch_job(operator, demo_cloud, "cell-rollout", params=ROLLOUT, confirmed=True)
    assert "nova_safety_upgrade" in refused.value.message_dict
    assert not Job.objects.exists()
