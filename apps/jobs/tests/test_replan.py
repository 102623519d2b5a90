"""Plans are checked again when a worker starts them and when they resume."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.catalog.models import Release
from apps.clouds.models import Cloud, ReleaseChange
from apps.jobs import execution, services
from apps.jobs.models import Job, JobState, Step, StepState

pytestmark = pytest.mark.django_db


def start(job: Job) -> Job:
    """What a worker does with the job: claim it and run what it still holds."""
    assert job.pk in services.dispatch()
    execution.execute_job(job.pk, worker="w1")
    job.refresh_from_db()
    return job


def cloud_now_runs(cloud: Cloud, series: str) -> None:
    Cloud.objects.filter(pk=cloud.pk).update(release=Release.objects.get(series=series))


def test_a_second_upgrade_queued_behind_the_first_does_not_start(
    operator, demo_cloud, no_worker, monkeypatch
):
    ran = []
    monkeypatch.setattr(execution, "_run_step", lambda *a, **k: ran.append(a[1].name) or "successful")
    services.launch_job(operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True)
    second = services.launch_job(
        operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
    )
    Job.objects.exclude(pk=second.pk).update(state=JobState.SUCCEEDED)
    cloud_now_runs(demo_cloud, "2025.2")  # what the first one did

    second = start(second)
    assert ran == []
    assert second.state == JobState.FAILED and second.result.startswith("Not started: the cloud runs 2025.2")
    assert set(second.steps.values_list("state", flat=True)) == {StepState.SKIPPED}
    assert AuditEntry.objects.filter(action="job.refused", object_id=str(second.pk)).exists()


def test_a_job_whose_plan_changed_since_launch_does_not_start(operator, demo_cloud, no_worker, monkeypatch):
    ran = []
    monkeypatch.setattr(execution, "_run_step", lambda *a, **k: ran.append(a[1].name) or "successful")
    job = services.launch_job(
        operator, demo_cloud, "cell-rollout", params={"target_release": "2025.2"}, confirmed=True
    )
    demo_cloud.cells.filter(name="cell2").delete()
    job = start(job)
    assert ran == [] and job.state == JobState.FAILED and "no longer in its plan" in job.result


def test_resume_is_refused_once_the_cloud_moved_on_and_nothing_is_queued(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "deploy", confirmed=True)
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELED)
    cloud_now_runs(demo_cloud, "2025.2")
    job.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        services.resume_job(operator, job, confirmed=True)
    assert "cannot resume: the cloud runs 2025.2, where this job expects 2025.1" in str(refused.value)
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELED and job.steps.filter(attempt=2).count() == 0


def test_a_stale_resume_through_the_api_is_a_400_naming_the_reason_and_queues_nothing(
    api_as, operator, demo_cloud, no_worker
):
    job = services.launch_job(operator, demo_cloud, "deploy", confirmed=True)
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELED)
    cloud_now_runs(demo_cloud, "2025.2")
    response = api_as(operator).post(f"/api/jobs/{job.pk}/resume/", {"confirm": True}, format="json")
    assert response.status_code == 400
    assert "cannot resume: the cloud runs 2025.2, where this job expects 2025.1" in str(
        response.json()["state"]
    )
    job.refresh_from_db()
    assert (job.state, job.attempt) == (JobState.CANCELED, 1)
    assert not job.steps.filter(attempt=2).exists()
    assert not AuditEntry.objects.filter(action="job.resume", object_id=str(job.pk)).exists()


def test_resume_after_a_hop_that_succeeded_continues_from_the_release_it_reached(
    operator, demo_cloud, no_worker
):
    job = services.launch_job(
        operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
    )
    upgrade = job.steps.get(action="upgrade")
    job.steps.filter(position__lte=upgrade.position).update(state=StepState.SUCCEEDED)
    job.steps.filter(position=upgrade.position + 1).update(state=StepState.FAILED)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    cloud_now_runs(demo_cloud, "2025.2")
    ReleaseChange.objects.create(
        cloud=demo_cloud,
        from_release=Release.objects.get(series="2025.1"),
        to_release=Release.objects.get(series="2025.2"),
        job=job,
    )
    job.refresh_from_db()
    services.resume_job(operator, job, confirmed=True)
    assert Step.objects.filter(job=job, attempt=2).first().action == "post-deploy"


def test_resuming_a_mutating_job_needs_confirmation_again(api_as, operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    api = api_as(operator)
    response = api.post(f"/api/jobs/{job.pk}/resume/", {}, format="json")
    assert response.status_code == 400 and "confirm" in response.json()
    assert api.post(f"/api/jobs/{job.pk}/resume/", {"confirm": True}, format="json").status_code == 202
