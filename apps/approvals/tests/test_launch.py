"""Launching under change control: what awaits approval, what needs a reason, what holds nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEntry
from apps.jobs import services
from apps.jobs.models import Job, JobState
from apps.jobs.preview import plan_preview

pytestmark = pytest.mark.django_db
DEPLOY = {"cloud": "demo", "kind": "deploy", "params": {"release": "2025.1"}, "confirm": True}


def test_a_mutating_launch_awaits_approval_with_its_plan_hash_and_reason(
    api_as, operator, demo_cloud, one_approval, no_worker
):
    wanted = "2026-12-04T22:00:00Z"
    response = api_as(operator).post(
        "/api/jobs/", {**DEPLOY, "reason": "new images", "wanted_at": wanted}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "awaiting_approval" and body["queued_at"] is None
    assert body["approval"]["reason"] == "new images" and body["approval"]["required"] == 1
    assert body["approval"]["wanted_at"].startswith("2026-12-04T22:00")
    # The hash the approvers approve is the one the plan preview showed before launch.
    assert body["approval"]["plan_hash"] == plan_preview(demo_cloud, "deploy", {"release": "2025.1"})["hash"]
    assert [s["state"] for s in body["steps"]] == ["pending"] * len(body["steps"])
    assert no_worker == []  # nothing asked a worker to start anything
    entry = AuditEntry.objects.get(action="job.approval_requested")
    assert entry.detail["reason"] == "new images" and entry.actor == operator


def test_reason_is_required_when_approval_is_needed_and_nothing_is_created(
    api_as, operator, demo_cloud, one_approval, no_worker
):
    response = api_as(operator).post("/api/jobs/", {**DEPLOY, "reason": "  "}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert not Job.objects.exists()


def test_read_only_kinds_and_clouds_needing_no_approver_queue_at_once(
    api_as, operator, admin_user, demo_cloud, one_approval, no_worker
):
    api = api_as(operator)
    prechecks = {"cloud": "demo", "kind": "prechecks", "params": {"release": "2025.1"}}
    assert api.post("/api/jobs/", prechecks, format="json").json()["state"] == "queued"
    api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"approvals_required": 0}, format="json")
    api = api_as(operator)
    body = api.post("/api/jobs/", DEPLOY, format="json").json()
    assert body["state"] == "queued" and body["approval"] is None


def test_a_job_awaiting_approval_holds_no_lock_and_never_starts(operator, awaiting, demo_cloud):
    # A second mutating job of the same cloud can be asked for, and neither is started.
    other = services.launch_job(
        operator, demo_cloud, "reconfigure", params={}, confirmed=True, reason="another change"
    )
    assert services.dispatch() == []
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.AWAITING_APPROVAL}
    assert other.state == JobState.AWAITING_APPROVAL


def test_the_launch_page_says_when_approval_is_needed_and_takes_the_reason(
    client_as, operator, demo_cloud, one_approval, no_worker
):
    client = client_as(operator)
    page = client.get("/clouds/demo/jobs/new/", {"kind": "deploy"}).content.decode()
    assert 'id="needs-approval"' in page and 'name="reason"' in page
    assert (
        'id="needs-approval"'
        not in client.get("/clouds/demo/jobs/new/", {"kind": "prechecks"}).content.decode()
    )
    form = {"kind": "deploy", "release": "2025.1", "confirm": "on", "priority": "0"}
    refused = client.post("/clouds/demo/jobs/new/", form)
    assert refused.status_code == 200 and "need approval" in refused.content.decode()
    assert not Job.objects.exists()
    response = client.post("/clouds/demo/jobs/new/", {**form, "reason": "new images"})
    job = Job.objects.get()
    assert response.status_code == 302 and job.state == JobState.AWAITING_APPROVAL
    assert job.approval_request.reason == "new images"


def test_the_launch_command_takes_the_reason(operator, demo_cloud, one_approval, no_worker, capsys):
    with pytest.raises(Exception, match="reason"):
        call_command("launch", "demo", "deploy", "--to", "2025.1", "--user", operator.username, "--yes")
    call_command(
        "launch",
        "demo",
        "deploy",
        "--to",
        "2025.1",
        "--user",
        operator.username,
        "--yes",
        "--reason",
        "images",
    )
    assert "awaits approval" in capsys.readouterr().out
    assert ApprovalRequest.objects.get().reason == "images"
