"""Approvals and maintenance windows together: an approved job starts in its cloud's window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.jobs import services
from apps.jobs.models import Job, JobState
from apps.windows.services import release_due_jobs
from apps.windows.tests.conftest import always_open, closed_now, opening_of

pytestmark = pytest.mark.django_db


def approve(api, job):
    return api.post(f"/api/jobs/{job.pk}/approve/", {"reason": "read it"}, format="json")


def test_a_job_approved_outside_its_window_is_scheduled_then_queued_when_it_opens(
    api_as, approver, operator, demo_cloud, one_approval, no_worker
):
    window = closed_now(demo_cloud)
    job = services.launch_job(
        operator, demo_cloud, "reconfigure", confirmed=True, reason="apply the new nova.conf"
    )
    assert job.state == JobState.AWAITING_APPROVAL  # approval first: the window is not asked yet

    response = approve(api_as(approver), job)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["released"] and body["job"]["state"] == "scheduled"
    assert "scheduled for" in body["message"] and "patch night" in body["message"]
    job.refresh_from_db()
    assert job.scheduled_for == opening_of(window) and no_worker == []

    assert release_due_jobs(now=opening_of(window) - timedelta(minutes=1)) == []
    assert release_due_jobs(now=opening_of(window) + timedelta(minutes=1)) == [job.pk]
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED


def test_an_emergency_still_needs_its_approval_then_starts_outside_the_window(
    api_as, approver, operator, demo_cloud, one_approval, no_worker
):
    closed_now(demo_cloud)
    job = services.launch_job(
        operator,
        demo_cloud,
        "reconfigure",
        confirmed=True,
        reason="nova-compute crash loop",
        emergency=True,
        emergency_reason="instances down in cell1",
    )
    assert job.state == JobState.AWAITING_APPROVAL and job.emergency
    assert approve(api_as(approver), job).json()["job"]["state"] == "queued"


def test_inside_a_window_an_approved_job_is_queued(
    api_as, approver, operator, demo_cloud, one_approval, no_worker
):
    always_open(demo_cloud)
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True, reason="routine")
    assert approve(api_as(approver), job).json()["job"]["state"] == "queued"
