"""Approvals are bound to the plan's hash: a cloud that changed under them makes them lapse."""

from __future__ import annotations

import pytest

from apps.approvals.models import Approval, RequestState
from apps.audit.models import AuditEntry
from apps.clouds.services import update_cloud
from apps.jobs import services
from apps.jobs.execution import execute_job
from apps.jobs.models import JobState
from apps.jobs.preview import plan_preview

pytestmark = pytest.mark.django_db


def change_globals(cloud) -> None:
    cloud.refresh_from_db()
    update_cloud(None, cloud, globals_yml=cloud.globals_yml + "\nnova_console: spice\n")


def approve(api, job):
    return api.post(f"/api/jobs/{job.pk}/approve/", {}, format="json")


def test_editing_the_globals_between_two_approvals_lapses_the_first(
    api_as, approver, second_approver, admin_user, awaiting, demo_cloud
):
    api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"approvals_required": 2}, format="json")
    old_hash = awaiting.approval_request.plan_hash
    assert approve(api_as(approver), awaiting).json()["approvals"] == 1
    change_globals(demo_cloud)
    response = approve(api_as(second_approver), awaiting)
    assert response.status_code == 409, response.content
    body = response.json()
    assert not body["counted"] and not body["released"] and body["approvals"] == 0
    assert body["job"]["state"] == "awaiting_approval"
    awaiting.refresh_from_db()
    assert awaiting.result.startswith(
        "The plan changed since it was approved: the cloud's inventory, globals"
    )
    assert Approval.objects.get().lapsed_at is not None
    new_hash = awaiting.approval_request.plan_hash
    assert (
        new_hash != old_hash and new_hash == plan_preview(demo_cloud, "deploy", {"release": "2025.1"})["hash"]
    )
    entry = AuditEntry.objects.get(action="job.approvals_lapsed")
    assert entry.detail["old_hash"] == old_hash and entry.detail["new_hash"] == new_hash
    assert entry.detail["lapsed"] == 1
    # The new plan is approved afresh: the first approver may approve it again.
    assert approve(api_as(approver), awaiting).json()["approvals"] == 1
    assert approve(api_as(second_approver), awaiting).json()["released"]
    page = api_as(approver).get(f"/api/jobs/{awaiting.pk}/").json()["approval"]
    assert [a["lapsed_at"] is None for a in page["approvals"]] == [False, True, True]


def test_a_job_that_cannot_be_planned_any_more_is_not_approved(api_as, approver, awaiting, demo_cloud):
    demo_cloud.refresh_from_db()
    update_cloud(None, demo_cloud, release="2024.2")  # a deploy does not change releases
    response = approve(api_as(approver), awaiting)
    assert response.status_code == 400 and "cannot be planned any more" in str(response.json())
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.AWAITING_APPROVAL and not Approval.objects.exists()
    deny = api_as(approver).post(
        f"/api/jobs/{awaiting.pk}/deny/", {"reason": "plan no longer holds"}, format="json"
    )
    assert deny.json()["state"] == "denied"


def test_a_job_approved_before_the_cloud_changed_does_not_run_on_that_approval(
    api_as, approver, awaiting, demo_cloud, no_worker, monkeypatch
):
    ran = []
    monkeypatch.setattr("apps.jobs.execution._run_steps", lambda job, control: ran.append(job.pk))
    assert approve(api_as(approver), awaiting).json()["released"]
    change_globals(demo_cloud)
    assert services.dispatch() == [awaiting.pk]
    execute_job(awaiting.pk, worker="w1")
    awaiting.refresh_from_db()
    assert ran == []
    assert (
        awaiting.state == JobState.AWAITING_APPROVAL and awaiting.worker == "" and awaiting.started_at is None
    )
    assert awaiting.result.startswith("The plan changed since it was approved")
    assert awaiting.approval_request.state == RequestState.PENDING
    assert Approval.objects.get().lapsed_at is not None
    assert AuditEntry.objects.filter(action="job.approvals_lapsed").count() == 1
    # Approved again, it runs.
    assert approve(api_as(approver), awaiting).json()["released"]
    assert services.dispatch() == [awaiting.pk]
    execute_job(awaiting.pk, worker="w1")
    assert ran == [awaiting.pk]
