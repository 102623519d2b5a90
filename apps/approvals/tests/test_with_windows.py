"""Approvals and maintenance windows together: an approved job starts in its cloud's window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from apps.approvals.services import update_policy
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


def emergency(operator, cloud):
    return services.launch_job(
        operator,
        cloud,
        "reconfigure",
        confirmed=True,
        reason="nova-compute crash loop",
        emergency=True,
        emergency_reason="instances down in cell1",
    )


def test_a_policy_that_allows_no_emergency_refuses_one_and_creates_nothing(
    admin_user, operator, demo_cloud, one_approval, no_worker
):
    update_policy(admin_user, demo_cloud, {"emergency_allowed": False})
    closed_now(demo_cloud)
    with pytest.raises(ValidationError) as refused:
        emergency(operator, demo_cloud)
    assert "allows no emergency" in refused.value.message_dict["emergency"][0]
    assert not Job.objects.exists()


def test_an_emergency_needs_the_approvals_its_policy_sets_for_emergencies(
    api_as, admin_user, approver, second_approver, operator, demo_cloud, one_approval, no_worker
):
    closed_now(demo_cloud)
    update_policy(admin_user, demo_cloud, {"emergency_approvals": 0})
    assert emergency(operator, demo_cloud).state == JobState.QUEUED  # none asked: it starts now

    update_policy(admin_user, demo_cloud, {"emergency_approvals": 2})
    job = emergency(operator, demo_cloud)
    assert job.state == JobState.AWAITING_APPROVAL
    assert not approve(api_as(approver), job).json()["released"]
    second = approve(api_as(second_approver), job).json()
    assert second["released"] and second["job"]["state"] == "queued" and second["required"] == 2
    # An ordinary launch still needs the cloud's one approval and waits for its window.
    ordinary = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True, reason="routine")
    assert approve(api_as(approver), ordinary).json()["job"]["state"] == "scheduled"


def test_the_emergency_rules_are_part_of_the_policy_api(api_as, admin_user, demo_cloud):
    api = api_as(admin_user)
    url = f"/api/clouds/{demo_cloud.slug}/approval-policy/"
    assert api.get(url).json()["emergency_allowed"] is True
    response = api.put(url, {"emergency_allowed": False, "emergency_approvals": 2}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["emergency_allowed"], response.json()["emergency_approvals"]) == (False, 2)
    assert api.put(url, {"emergency_approvals": -1}, format="json").status_code == 400
