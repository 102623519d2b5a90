"""The console says what changed: routine reaper and beat runs log at DEBUG, a reaped job at INFO."""

import logging
from datetime import timedelta

import pytest
from celery.beat import ScheduleEntry, Scheduler
from django.utils import timezone

from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.tasks import reap_jobs
from portal.celery import app

pytestmark = pytest.mark.django_db


def _info_lines(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]


def test_an_idle_reaper_run_logs_nothing_at_info(operator, demo_cloud, no_worker, caplog):
    services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()  # running, with a fresh heartbeat: nothing to reap
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    assert reap_jobs.apply().get() == []
    assert _info_lines(caplog) == []
    assert any("ferry.jobs.reap" in r.getMessage() for r in caplog.records)  # still there at DEBUG


def test_a_reaper_run_that_marks_a_job_lost_logs_one_info_line(
    operator, demo_cloud, no_worker, caplog, monkeypatch
):
    monkeypatch.setattr("apps.jobs.tasks.end_orphaned_steps", lambda: None)
    job = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    services.dispatch()
    # A worker claimed it, then went silent: only a claimed job is lost (an unclaimed one is queued again).
    Job.objects.filter(pk=job.pk).update(worker="w1", heartbeat_at=timezone.now() - timedelta(minutes=5))
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    assert reap_jobs.apply().get() == [job.pk]
    (line,) = _info_lines(caplog)
    assert f"marked job {job.pk} lost" in line


def test_beat_sending_the_reaper_logs_at_debug(caplog, monkeypatch):
    scheduler = Scheduler(app, lazy=True)
    monkeypatch.setattr(scheduler, "apply_async", lambda *args, **kwargs: None)
    caplog.set_level(logging.DEBUG)
    scheduler.apply_entry(ScheduleEntry(name="reap-lost-jobs", task="ferry.jobs.reap", schedule=5.0, app=app))
    assert _info_lines(caplog) == []
    assert any("reap-lost-jobs" in r.getMessage() for r in caplog.records)


def test_other_tasks_still_report_at_info(caplog):
    from portal.tasks import roundtrip

    caplog.set_level(logging.DEBUG)
    roundtrip.apply(args=["quietlogs"]).get()
    assert any("ferry.roundtrip" in line and "succeeded" in line for line in _info_lines(caplog))
