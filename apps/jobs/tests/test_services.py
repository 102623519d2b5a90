"""Launching, queueing within slots, the per-cloud lock, cancel, resume and the reaper."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clouds.models import Cloud
from apps.jobs import services
from apps.jobs.models import Job, JobState, Step, StepState

pytestmark = pytest.mark.django_db


def test_launch_plans_steps_and_queues(operator, demo_cloud, no_worker):
    job = services.launch_job(
        operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
    )
    assert job.state == JobState.QUEUED and job.mutating
    assert list(job.steps.values_list("action", flat=True)) == [
        "ferry-validate",
        "ferry-merge-passwords",  # 2025.2's valkey_master_password (runner/hops.py)
        "pull",
        "prechecks",
        "mariadb-backup",
        "ferry-backup-fetch",
        "upgrade",
        "post-deploy",
        "validate-config",
        "check",
    ]
    assert AuditEntry.objects.filter(action="job.launch", object_id=str(job.pk), actor=operator).exists()


def test_a_validate_job_is_read_only_and_needs_no_confirmation(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "validate", params={"min_free_gb": 50})
    assert not job.mutating
    (step,) = job.steps.all()
    assert step.action == "ferry-validate" and step.extra_vars["ferry_validate_min_free_gb"] == 50


@pytest.mark.parametrize(
    ("kind", "params", "limit", "field"),
    [
        ("upgrade", {"target_release": "2027.1"}, "", "target_release"),
        ("upgrade", {}, "", "target_release"),
        ("explode", {}, "", "kind"),
        ("prechecks", {}, "cell9,ctl01", "limit"),
        ("restore", {}, "", "backup"),
    ],
)
def test_bad_launch_names_the_field_and_creates_nothing(
    operator, demo_cloud, no_worker, kind, params, limit, field
):
    with pytest.raises(ValidationError) as refused:
        services.launch_job(operator, demo_cloud, kind, params=params, limit=limit, confirmed=True)
    assert field in refused.value.message_dict
    assert not Job.objects.exists() and not Step.objects.exists()
    assert no_worker == []


def test_database_refuses_two_running_mutating_jobs_on_one_cloud(operator, demo_cloud, no_worker):
    first = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    second = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    Job.objects.filter(pk=first.pk).update(state=JobState.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.filter(pk=second.pk).update(state=JobState.RUNNING)


def test_dispatch_keeps_the_second_mutating_job_queued_and_lets_readonly_run(
    operator, demo_cloud, no_worker, settings
):
    settings.FERRY_JOB_SLOTS = 5
    first = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    second = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    check = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    started = services.dispatch()
    assert started == [first.pk, check.pk]
    assert Job.objects.get(pk=second.pk).state == JobState.QUEUED


def test_dispatch_respects_slots_and_priority(operator, admin_user, no_worker, settings):
    from apps.clouds import services as cloud_services

    settings.FERRY_JOB_SLOTS = 2
    clouds = [cloud_services.create_cloud(admin_user, slug=f"c{i}", release="2025.1") for i in range(4)]
    jobs = [
        services.launch_job(operator, c, "prechecks", priority=p, confirmed=True)
        for c, p in zip(clouds, [0, 5, 1, 5], strict=True)
    ]
    assert services.dispatch() == [jobs[1].pk, jobs[3].pk]
    assert services.dispatch() == []  # no slot free
    Job.objects.filter(pk=jobs[1].pk).update(state=JobState.SUCCEEDED)
    assert services.dispatch() == [jobs[2].pk]


def test_cancel_a_queued_job_at_once(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.cancel_job(operator, job)
    job.refresh_from_db()
    assert job.state == JobState.CANCELED and job.cancel_requested
    assert set(job.steps.values_list("state", flat=True)) == {StepState.SKIPPED}


def test_cancel_a_finished_job_is_refused(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    with pytest.raises(ValidationError, match="only queued or running"):
        services.cancel_job(operator, job)


def test_reaper_marks_silent_jobs_lost_keeps_finished_steps_and_skips_the_rest(
    operator, demo_cloud, no_worker, settings
):
    settings.FERRY_HEARTBEAT_TIMEOUT = 20
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    services.dispatch()
    steps = list(job.steps.order_by("position"))
    Step.objects.filter(pk=steps[0].pk).update(state=StepState.SUCCEEDED)
    Step.objects.filter(pk=steps[1].pk).update(state=StepState.RUNNING)
    assert services.claim_job(job.pk, "w1")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=25))
    assert services.reap_lost_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.LOST and "resume" in job.result
    assert list(job.steps.order_by("position").values_list("state", flat=True)) == [
        "succeeded",
        "lost",
        "skipped",
    ]
    # the cloud's lock is released: another mutating job can start
    other = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    assert other.pk in services.dispatch()


def test_reaper_leaves_jobs_with_a_fresh_heartbeat(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()
    assert services.reap_lost_jobs() == []
    assert Job.objects.get(pk=job.pk).state == JobState.RUNNING


def test_heartbeat_says_stop_once_canceled_or_no_longer_active(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    services.dispatch()
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=10))
    assert services.bump_heartbeat(job.pk) is True
    assert timezone.now() - Job.objects.get(pk=job.pk).heartbeat_at < timedelta(seconds=5)

    services.cancel_job(operator, job)  # canceling is still active: the worker beats, and stops
    assert services.bump_heartbeat(job.pk) is False

    Job.objects.filter(pk=job.pk).update(state=JobState.LOST, cancel_requested=False)
    stale = Job.objects.get(pk=job.pk).heartbeat_at
    assert services.bump_heartbeat(job.pk) is False
    assert Job.objects.get(pk=job.pk).heartbeat_at == stale


def test_resume_copies_the_remaining_steps_into_a_new_attempt(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    steps = list(job.steps.order_by("position"))
    Step.objects.filter(pk=steps[0].pk).update(state=StepState.SUCCEEDED)
    Step.objects.filter(pk=steps[1].pk).update(state=StepState.FAILED)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    job.refresh_from_db()
    services.resume_job(operator, job, confirmed=True)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempt == 2
    again = list(job.steps.filter(attempt=2).order_by("position"))
    assert [s.position for s in again] == [2, 3] and [s.ordinal for s in again] == [4, 5]
    assert job.steps.filter(attempt=1).count() == 3  # the first attempt's history stays


def test_resume_of_a_running_job_is_refused(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    with pytest.raises(ValidationError, match="only failed, lost or canceled"):
        services.resume_job(operator, job)


def test_cloud_not_deployed_cannot_be_upgraded(operator, admin_user, no_worker):
    from apps.clouds import services as cloud_services

    cloud = cloud_services.create_cloud(admin_user, slug="fresh")
    with pytest.raises(ValidationError) as refused:
        services.launch_job(operator, cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True)
    assert "deploy it first" in str(refused.value)
    assert Cloud.objects.get(slug="fresh").jobs.count() == 0


def test_the_launch_service_itself_refuses_an_unconfirmed_mutating_job(operator, demo_cloud, no_worker):
    with pytest.raises(ValidationError) as refused:
        services.launch_job(operator, demo_cloud, "reconfigure")
    assert "confirm" in refused.value.message_dict and not Job.objects.exists()
    assert services.launch_job(operator, demo_cloud, "check", confirmed=True).state == JobState.QUEUED


def test_the_launch_page_asks_for_confirmation_through_the_service(
    client_as, operator, demo_cloud, no_worker
):
    response = client_as(operator).post("/clouds/demo/jobs/new/", {"kind": "reconfigure", "priority": 0})
    assert response.status_code == 200 and "confirm that you mean it" in response.content.decode()
    assert not Job.objects.exists()
