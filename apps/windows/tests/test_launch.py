"""Launch under change control: outside a window a mutating job is scheduled, inside it is queued,
an emergency starts at once, and read-only jobs never wait."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.jobs import services
from apps.jobs.models import Job, JobState
from apps.windows.models import ChangeFreeze
from apps.windows.tests.conftest import always_open, closed_now, opening_of

pytestmark = pytest.mark.django_db

UPGRADE = {"target_release": "2025.2"}


def upgrade(actor, cloud, **kw):
    return services.launch_job(actor, cloud, "upgrade", params=UPGRADE, confirmed=True, **kw)


def test_outside_every_window_a_mutating_job_is_scheduled_for_the_next_opening(
    operator, demo_cloud, no_worker
):
    window = closed_now(demo_cloud)
    job = upgrade(operator, demo_cloud)
    job.refresh_from_db()
    assert job.state == JobState.SCHEDULED and job.queued_at is None
    assert job.scheduled_for == opening_of(window)
    assert (
        "outside every maintenance window" in job.scheduled_reason and "patch night" in job.scheduled_reason
    )
    assert no_worker == []  # nothing is dispatched for it
    entry = AuditEntry.objects.get(action="job.scheduled")
    assert entry.actor == operator and entry.detail["scheduled_for"] == opening_of(window).isoformat()


def test_inside_a_window_a_mutating_job_is_queued(
    operator, demo_cloud, no_worker, django_capture_on_commit_callbacks
):
    always_open(demo_cloud)
    closed_now(demo_cloud)
    with django_capture_on_commit_callbacks(execute=True):
        job = upgrade(operator, demo_cloud)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    assert job.scheduled_for is None and job.queued_at is not None
    assert ("dispatch", None) in no_worker


def test_a_freeze_schedules_a_job_even_inside_a_window_until_it_ends(operator, demo_cloud, no_worker):
    always_open(demo_cloud)
    ends = timezone.now() + timedelta(days=2)
    ChangeFreeze.objects.create(
        cloud=None, starts_at=timezone.now() - timedelta(hours=1), ends_at=ends, reason="year-end"
    )
    job = upgrade(operator, demo_cloud)
    assert job.state == JobState.SCHEDULED and job.scheduled_for == ends
    assert "global change freeze" in job.scheduled_reason and "year-end" in job.scheduled_reason


def test_without_windows_a_cloud_is_open(operator, demo_cloud, no_worker):
    assert upgrade(operator, demo_cloud).state == JobState.QUEUED


def test_read_only_jobs_ignore_windows_and_freezes(operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    ChangeFreeze.objects.create(
        cloud=demo_cloud, starts_at=timezone.now(), ends_at=timezone.now() + timedelta(days=1), reason="x"
    )
    job = services.launch_job(operator, demo_cloud, "prechecks", emergency=True)
    assert job.state == JobState.QUEUED and not job.emergency


def test_an_emergency_starts_outside_the_window_and_is_audited_as_such(operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    job = upgrade(operator, demo_cloud, emergency=True, emergency_reason="  CVE-2026-0001 in keystone ")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.emergency
    assert job.emergency_reason == "CVE-2026-0001 in keystone"
    launch = AuditEntry.objects.get(action="job.launch")
    assert launch.detail["emergency"] is True and launch.detail["emergency_reason"] == job.emergency_reason
    assert not AuditEntry.objects.filter(action="job.scheduled").exists()


def test_an_emergency_needs_a_reason(operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    with pytest.raises(ValidationError) as refused:
        upgrade(operator, demo_cloud, emergency=True, emergency_reason=" ")
    assert set(refused.value.message_dict) == {"emergency_reason"}
    assert not Job.objects.exists()


def test_only_someone_who_may_operate_the_cloud_launches_an_emergency(viewer, demo_cloud, no_worker):
    closed_now(demo_cloud)
    with pytest.raises(PermissionDenied):
        upgrade(viewer, demo_cloud, emergency=True, emergency_reason="now")
    assert not Job.objects.exists()


def test_a_scheduled_job_can_be_canceled(operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    job = services.cancel_job(operator, upgrade(operator, demo_cloud))
    assert job.state == JobState.CANCELED and job.finished_at is not None


def test_a_mutating_job_resumed_outside_its_windows_is_scheduled(operator, demo_cloud, no_worker):
    job = upgrade(operator, demo_cloud)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    window = closed_now(demo_cloud)
    job = services.resume_job(operator, job, confirmed=True)
    assert job.state == JobState.SCHEDULED and job.scheduled_for == opening_of(window)


def test_the_api_says_when_and_why_a_scheduled_job_starts(api_as, operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    body = {"cloud": "demo", "kind": "upgrade", "params": UPGRADE, "confirm": True}
    answer = api_as(operator).post("/api/jobs/", body, format="json")
    assert answer.status_code == 201, answer.json()
    job = answer.json()
    assert job["state"] == "scheduled" and job["scheduled_for"] and "patch night" in job["scheduled_reason"]
    emergency = {**body, "emergency": True, "emergency_reason": "the database is on fire"}
    job = api_as(operator).post("/api/jobs/", emergency, format="json").json()
    assert (job["state"], job["emergency"]) == ("queued", True)
    refused = api_as(operator).post("/api/jobs/", {**body, "emergency": True}, format="json")
    assert refused.status_code == 400 and "emergency_reason" in refused.json()


def test_the_launch_page_warns_then_the_job_page_says_when_it_starts(
    client_as, operator, demo_cloud, no_worker
):
    closed_now(demo_cloud)
    client = client_as(operator)
    page = client.get("/clouds/demo/jobs/new/?kind=upgrade&target_release=2025.2").content.decode()
    assert 'id="window-state"' in page and "scheduled for" in page and "emergency" in page.lower()
    answer = client.post(
        "/clouds/demo/jobs/new/",
        {"kind": "upgrade", "target_release": "2025.2", "confirm": "on"},
        follow=True,
    )
    text = answer.content.decode()
    job = Job.objects.get()
    assert job.state == JobState.SCHEDULED
    assert f"Job #{job.pk} (upgrade) scheduled for {job.scheduled_for:%Y-%m-%d %H:%M} UTC" in text
    assert 'id="job-scheduled"' in text and "patch night" in text


def test_the_launch_page_launches_an_emergency_with_its_reason(client_as, operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    form = {"kind": "upgrade", "target_release": "2025.2", "confirm": "on", "emergency": "on"}
    refused = client_as(operator).post("/clouds/demo/jobs/new/", form)
    assert refused.status_code == 200 and not Job.objects.exists()
    client_as(operator).post("/clouds/demo/jobs/new/", {**form, "emergency_reason": "outage"})
    job = Job.objects.get()
    assert (job.state, job.emergency, job.emergency_reason) == (JobState.QUEUED, True, "outage")
    page = client_as(operator).get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="job-emergency"' in page and "outage" in page


def test_manage_launch_schedules_or_launches_an_emergency(operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    out = StringIO()
    call_command(
        "launch", "demo", "upgrade", "--to", "2025.2", "--user", operator.username, "--yes", stdout=out
    )
    assert "scheduled for" in out.getvalue() and "patch night" in out.getvalue()
    out = StringIO()
    args = ["demo", "upgrade", "--to", "2025.2", "--user", operator.username, "--yes", "--emergency"]
    call_command("launch", *args, "--reason", "security fix", stdout=out)
    assert "queued as an emergency" in out.getvalue()
    assert Job.objects.filter(emergency=True, emergency_reason="security fix", state=JobState.QUEUED).exists()


def test_job_lists_show_scheduled_jobs_with_their_time(client_as, operator, demo_cloud, no_worker):
    closed_now(demo_cloud)
    job = upgrade(operator, demo_cloud)
    text = client_as(operator).get("/jobs/").content.decode()
    assert f"#{job.pk}" in text.split("Recent")[0] and "scheduled" in text
    assert (
        f"{job.scheduled_for:%Y-%m-%d %H:%M} UTC" in client_as(operator).get("/jobs/active/").content.decode()
    )


def test_the_emergency_box_is_offered_only_while_the_cloud_is_closed(client_as, operator, demo_cloud):
    url = "/clouds/demo/jobs/new/?kind=upgrade&target_release=2025.2"
    assert 'name="emergency"' not in client_as(operator).get(url).content.decode()
    closed_now(demo_cloud)
    page = client_as(operator).get(url).content.decode()
    assert 'name="emergency"' in page and 'name="emergency_reason"' in page
