"""A broker that is down or a worker that never comes: jobs queue again, never lost unless they started."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.audit.models import AuditEntry
from apps.jobs import services, tasks
from apps.jobs.execution import execute_job
from apps.jobs.models import Job, JobState, StepState

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    """Every task publish fails as it does when Redis refuses connections."""

    def refuse(*_args, **_kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_job, "delay", refuse)
    monkeypatch.setattr(tasks.dispatch_jobs, "delay", refuse)


def test_launch_while_the_broker_is_down_stores_a_queued_job(
    api_as, operator, demo_cloud, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_as(operator).post(
            "/api/jobs/",
            {"cloud": "demo", "kind": "prechecks", "params": {"release": "2025.1"}},
            format="json",
        )
    assert callbacks, "the launch asked for no dispatch"
    assert response.status_code == 201, response.content
    assert Job.objects.get(pk=response.json()["id"]).state == JobState.QUEUED


def test_dispatch_while_the_broker_is_down_leaves_jobs_queued(operator, demo_cloud, broker_down):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    assert services.dispatch() == []
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.started_at is None


def test_reaper_queues_again_a_job_no_worker_took_instead_of_calling_it_lost(
    operator, demo_cloud, no_worker, settings
):
    settings.FERRY_HEARTBEAT_TIMEOUT = 20
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    assert services.dispatch() == [job.pk]
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=25))
    assert services.reap_lost_jobs() == []
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.result == ""
    assert set(job.steps.values_list("state", flat=True)) == {StepState.PENDING}
    entry = AuditEntry.objects.get(action="job.requeued", object_id=str(job.pk))
    assert entry.actor is None and entry.detail == {"reason": "no worker took it"}
    assert services.dispatch() == [job.pk]  # and it starts again


def test_a_late_task_for_a_job_queued_again_does_not_run_it(operator, demo_cloud, no_worker, settings):
    settings.FERRY_HEARTBEAT_TIMEOUT = 20
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=25))
    services.reap_lost_jobs()
    execute_job(job.pk, worker="late-worker")  # the first task arrives after all
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.worker == ""
    assert set(job.steps.values_list("state", flat=True)) == {StepState.PENDING}


def test_only_one_worker_claims_a_started_job(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()
    assert services.claim_job(job.pk, "w1")
    assert not services.claim_job(job.pk, "w2")
    assert Job.objects.get(pk=job.pk).worker == "w1"


def test_a_job_canceled_before_any_worker_took_it_ends_canceled(operator, demo_cloud, no_worker, settings):
    settings.FERRY_HEARTBEAT_TIMEOUT = 20
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()
    services.cancel_job(operator, Job.objects.get(pk=job.pk))
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=25))
    assert services.reap_lost_jobs() == []
    job.refresh_from_db()
    assert job.state == JobState.CANCELED and job.result == "Canceled before it started."
    assert AuditEntry.objects.filter(action="job.canceled_unstarted", object_id=str(job.pk)).exists()
