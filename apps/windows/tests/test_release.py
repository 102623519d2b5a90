"""The periodic release: scheduled jobs are queued when their window opens, exactly once, and moved
when a freeze now covers their time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.jobs import services
from apps.jobs.models import Job, JobState
from apps.windows import services as windows
from apps.windows.models import ChangeFreeze, MaintenanceWindow
from apps.windows.tests.conftest import closed_now, opening_of

UPGRADE = {"target_release": "2025.2"}


def scheduled_upgrade(operator, cloud) -> Job:
    job = services.launch_job(operator, cloud, "upgrade", params=UPGRADE, confirmed=True)
    assert job.state == JobState.SCHEDULED
    return job


@pytest.mark.django_db
def test_the_beat_runs_the_release_every_few_seconds():
    assert settings.CELERY_BEAT_SCHEDULE["release-scheduled-jobs"]["task"] == "ferry.windows.release"
    from portal.celery import app

    app.loader.import_default_modules()  # what a worker does at start: autodiscovers every app's tasks
    assert "ferry.windows.release" in app.tasks


@pytest.mark.django_db
def test_a_job_is_left_scheduled_until_its_window_opens_then_queued_and_dispatched(
    operator, demo_cloud, no_worker, django_capture_on_commit_callbacks
):
    window = closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    opens = opening_of(window)
    assert windows.release_due_jobs(opens - timedelta(seconds=1)) == []
    assert Job.objects.get(pk=job.pk).state == JobState.SCHEDULED
    with django_capture_on_commit_callbacks(execute=True):
        assert windows.release_due_jobs(opens + timedelta(seconds=3)) == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.queued_at == opens + timedelta(seconds=3)
    assert ("dispatch", None) in no_worker
    entry = AuditEntry.objects.get(action="job.window_opened")
    assert entry.actor is None and "patch night" in entry.detail["window"]
    # A second sweep finds nothing to do.
    assert windows.release_due_jobs(opens + timedelta(seconds=13)) == []
    assert AuditEntry.objects.filter(action="job.window_opened").count() == 1


@pytest.mark.django_db
def test_a_freeze_declared_over_a_scheduled_job_moves_it_past_the_freeze(
    operator, admin_user, demo_cloud, no_worker
):
    window = closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    opens = opening_of(window)
    windows.create_freeze(
        admin_user,
        demo_cloud,
        starts_at=opens - timedelta(hours=1),
        ends_at=opens + timedelta(days=1),
        reason="vendor audit",
    )
    job.refresh_from_db()
    assert job.state == JobState.SCHEDULED
    assert job.scheduled_for == opens + timedelta(days=7)  # the same window a week later
    assert "patch night" in job.scheduled_reason  # it waits for that window again
    moved = AuditEntry.objects.get(action="job.rescheduled")
    assert moved.actor == admin_user
    assert moved.detail["from"] == opens.isoformat() and moved.detail["to"] == job.scheduled_for.isoformat()


@pytest.mark.django_db
def test_when_the_window_opens_inside_a_freeze_the_sweep_moves_the_job_and_audits_it(
    operator, demo_cloud, no_worker
):
    window = closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    opens = opening_of(window)
    # Written straight to the table, as a freeze no service saw: only the sweep can notice it.
    ChangeFreeze.objects.create(
        cloud=None, starts_at=opens - timedelta(minutes=5), ends_at=opens + timedelta(minutes=30), reason="x"
    )
    assert windows.release_due_jobs(opens + timedelta(minutes=1)) == []
    job.refresh_from_db()
    assert job.state == JobState.SCHEDULED and job.scheduled_for == opens + timedelta(minutes=30)
    assert AuditEntry.objects.get(action="job.rescheduled").actor is None
    assert windows.release_due_jobs(opens + timedelta(minutes=31)) == [job.pk]


@pytest.mark.django_db
def test_adding_a_window_that_is_open_now_queues_the_waiting_job(operator, admin_user, demo_cloud, no_worker):
    closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    windows.create_window(
        admin_user,
        demo_cloud,
        weekdays=list(range(7)),
        start_time=time(0),
        duration=timedelta(days=7),
        timezone_name="UTC",
    )
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


@pytest.mark.django_db
def test_removing_the_last_window_queues_the_waiting_job(operator, admin_user, demo_cloud, no_worker):
    window = closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    windows.delete_window(admin_user, demo_cloud, window.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


@pytest.mark.django_db
def test_a_canceled_job_is_never_queued_by_the_sweep(operator, demo_cloud, no_worker):
    window = closed_now(demo_cloud)
    job = services.cancel_job(operator, scheduled_upgrade(operator, demo_cloud))
    assert windows.release_due_jobs(opening_of(window) + timedelta(minutes=1)) == []
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELED


@pytest.mark.django_db
def test_the_task_releases_due_jobs(operator, demo_cloud, no_worker, monkeypatch):
    from apps.windows.tasks import release_scheduled_jobs

    window = closed_now(demo_cloud)
    job = scheduled_upgrade(operator, demo_cloud)
    later = opening_of(window) + timedelta(minutes=1)
    monkeypatch.setattr("apps.windows.services.timezone.now", lambda: later)
    assert release_scheduled_jobs() == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_queue_each_due_job_exactly_once(postgresql, demo_cloud, operator, no_worker):
    cloud = demo_cloud
    day = timezone.now().astimezone(UTC) + timedelta(days=3)
    MaintenanceWindow.objects.create(
        cloud=cloud,
        weekdays=[day.weekday()],
        start_time=time(12),
        duration=timedelta(hours=1),
        timezone="UTC",
    )
    jobs = [scheduled_upgrade(operator, cloud) for _ in range(6)]
    opens = datetime.combine(day.date(), time(12), tzinfo=UTC)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(windows.release_due_jobs(opens + timedelta(seconds=1)))
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    released = sorted(results[0] + results[1])
    assert released == sorted(j.pk for j in jobs)  # each once, by one sweep or the other
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.QUEUED}
    assert AuditEntry.objects.filter(action="job.window_opened").count() == len(jobs)
