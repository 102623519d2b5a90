"""Requests that no approver decided within the policy's time expire, by the job sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.approvals.models import ApprovalRequest, RequestState
from apps.approvals.services import expire_requests
from apps.audit.models import AuditEntry
from apps.jobs import services, tasks
from apps.jobs.models import JobState

pytestmark = pytest.mark.django_db


def test_a_request_older_than_its_time_expires_and_a_younger_one_waits(
    api_as, approver, operator, awaiting, demo_cloud
):
    assert expire_requests(timezone.now() + timedelta(hours=71)) == []
    assert expire_requests(timezone.now() + timedelta(hours=73)) == [awaiting.pk]
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.EXPIRED and awaiting.is_finished
    assert "no approval within 72 h" in awaiting.result
    assert set(awaiting.steps.values_list("state", flat=True)) == {"skipped"}
    assert ApprovalRequest.objects.get().state == RequestState.EXPIRED
    entry = AuditEntry.objects.get(action="job.expired")
    assert entry.actor is None and entry.detail["hours"] == 72
    response = api_as(approver).post(f"/api/jobs/{awaiting.pk}/approve/", {}, format="json")
    assert response.status_code == 400 and "not awaiting approval" in str(response.json())


def test_the_job_sweep_expires_requests_by_their_cloud_policy(
    api_as, admin_user, operator, demo_cloud, one_approval
):
    api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"request_ttl_hours": 1}, format="json")
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True, reason="r")
    assert job.approval_request.expires_at - job.approval_request.requested_at == timedelta(hours=1)
    tasks.sweep()
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL
    ApprovalRequest.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    tasks.sweep()
    job.refresh_from_db()
    assert job.state == JobState.EXPIRED


def test_an_approved_job_never_expires(api_as, approver, awaiting):
    api_as(approver).post(f"/api/jobs/{awaiting.pk}/approve/", {}, format="json")
    assert expire_requests(timezone.now() + timedelta(days=30)) == []
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED
