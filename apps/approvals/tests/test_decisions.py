"""Who approves or denies a job awaiting approval, and what each decision does."""

from __future__ import annotations

import pytest

from apps.approvals.models import Approval, ApprovalRequest, RequestState
from apps.audit.models import AuditEntry
from apps.clouds.members import grant_membership
from apps.jobs import services
from apps.jobs.models import JobState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def approve(api, job, **body):
    return api.post(f"/api/jobs/{job.pk}/approve/", body, format="json")


def deny(api, job, **body):
    return api.post(f"/api/jobs/{job.pk}/deny/", body, format="json")


def test_an_approver_approves_and_the_job_is_queued_and_dispatched(
    api_as, approver, awaiting, no_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = approve(api_as(approver), awaiting, reason="checked the plan")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["released"] and body["job"]["state"] == "queued" and body["approvals"] == 1
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED and awaiting.queued_at is not None
    assert awaiting.approval_request.state == RequestState.APPROVED
    assert ("dispatch", None) in no_worker
    entry = AuditEntry.objects.get(action="job.approved")
    assert (
        entry.actor == approver and entry.detail["released"] and entry.detail["reason"] == "checked the plan"
    )


def test_approver_cannot_approve_own_request(api_as, admin_user, awaiting, demo_cloud):
    # Someone who both operates and approves launches a job: they still cannot approve it.
    both = UserFactory(username="bo-both", role="operator")
    grant_membership(admin_user, demo_cloud, both.username, "approver")
    job = services.launch_job(both, demo_cloud, "reconfigure", params={}, confirmed=True, reason="mine")
    response = approve(api_as(both), job)
    assert response.status_code == 403
    assert "approves a job they asked for themselves" in response.json()["detail"]
    job.refresh_from_db()
    assert job.state == JobState.AWAITING_APPROVAL and not Approval.objects.exists()


def test_admin_cannot_approve_own_request_either(api_as, admin_user, demo_cloud, one_approval, no_worker):
    job = services.launch_job(admin_user, demo_cloud, "reconfigure", params={}, confirmed=True, reason="mine")
    assert approve(api_as(admin_user), job).status_code == 403


@pytest.mark.parametrize("persona", ["operator", "viewer"])
def test_who_lacks_the_approver_role_gets_403(request, api_as, persona, awaiting):
    user = request.getfixturevalue(persona)
    response = approve(api_as(user), awaiting)
    assert response.status_code == 403 and "approver role" in response.json()["detail"]
    assert deny(api_as(user), awaiting, reason="no").status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.AWAITING_APPROVAL


def test_an_outsider_does_not_see_the_job(api_as, outsider, awaiting):
    assert approve(api_as(outsider), awaiting).status_code == 404


def test_approvers_of_that_cloud_may_approve(api_as, admin_user, awaiting, demo_cloud):
    from apps.clouds.services import create_cloud

    member = UserFactory(username="cloud-approver")
    grant_membership(admin_user, create_cloud(None, slug="other"), member.username, "approver")
    assert approve(api_as(member), awaiting).status_code == 404  # an approver of another cloud only
    grant_membership(admin_user, demo_cloud, member.username, "approver")
    member = type(member).objects.get(pk=member.pk)  # roles are cached on the user object
    assert approve(api_as(member), awaiting).status_code == 200
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED


def test_an_admin_may_approve(api_as, admin_user, awaiting):
    assert approve(api_as(admin_user), awaiting).json()["released"]


def test_deny_needs_a_reason_and_ends_the_job(api_as, approver, awaiting):
    api = api_as(approver)
    response = deny(api, awaiting)
    assert response.status_code == 400 and "reason" in response.json()
    response = deny(api, awaiting, reason="not during the freeze")
    assert response.status_code == 200 and response.json()["state"] == "denied"
    awaiting.refresh_from_db()
    assert awaiting.is_finished and "not during the freeze" in awaiting.result
    assert set(awaiting.steps.values_list("state", flat=True)) == {"skipped"}
    assert awaiting.approval_request.state == RequestState.DENIED
    assert AuditEntry.objects.get(action="job.denied").detail["reason"] == "not during the freeze"
    # Nothing more to decide.
    assert approve(api, awaiting).status_code == 400


def test_two_approvals_required_each_approver_counts_once(
    api_as, approver, second_approver, admin_user, awaiting, no_worker
):
    api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"approvals_required": 2}, format="json")
    first = approve(api_as(approver), awaiting)
    assert first.status_code == 200 and not first.json()["released"] and first.json()["approvals"] == 1
    again = approve(api_as(approver), awaiting)
    assert again.status_code == 400 and "counts once" in str(again.json())
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.AWAITING_APPROVAL
    second = approve(api_as(second_approver), awaiting)
    assert second.json()["released"] and second.json()["approvals"] == 2
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED


def test_a_plan_hash_the_approver_did_not_read_is_refused(api_as, approver, awaiting):
    response = approve(api_as(approver), awaiting, plan_hash="0" * 64)
    assert response.status_code == 400 and "plan_hash" in response.json()
    hash_read = awaiting.approval_request.plan_hash
    assert approve(api_as(approver), awaiting, plan_hash=hash_read).status_code == 200


def test_the_requester_withdraws_and_cannot_resume_round_the_approvers(api_as, operator, awaiting):
    api = api_as(operator)
    response = api.post(f"/api/jobs/{awaiting.pk}/cancel/")
    assert response.status_code == 202 and response.json()["state"] == "canceled"
    assert ApprovalRequest.objects.get().state == RequestState.WITHDRAWN
    response = api.post(f"/api/jobs/{awaiting.pk}/resume/", {"confirm": True}, format="json")
    assert response.status_code == 400 and "never approved" in str(response.json())


def test_the_job_page_shows_the_plan_and_the_buttons_to_an_approver_only(
    client_as, approver, operator, awaiting, no_worker
):
    page = client_as(operator).get(f"/jobs/{awaiting.pk}/").content.decode()
    assert 'id="approval"' in page and "roll out the new images" in page
    assert 'id="approval-form"' not in page and 'id="approval-refusal"' in page and "approver role" in page
    client = client_as(approver)
    page = client.get(f"/jobs/{awaiting.pk}/").content.decode()
    assert 'id="approval-form"' in page and awaiting.approval_request.plan_hash in page
    assert 'id="steps"' in page and "Deploy" in page  # the steps are the plan
    refused = client.post(f"/approvals/jobs/{awaiting.pk}/deny/", {"reason": ""})
    assert refused.status_code == 302
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.AWAITING_APPROVAL
    client.post(f"/approvals/jobs/{awaiting.pk}/approve/", {"plan_hash": awaiting.approval_request.plan_hash})
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED


def test_an_approver_denies_on_the_job_page_with_a_reason_and_the_job_ends_denied(
    client_as, approver, awaiting
):
    client = client_as(approver)
    response = client.post(
        f"/approvals/jobs/{awaiting.pk}/deny/",
        {"reason": "not during the freeze"},
        HTTP_X_REQUEST_ID="deny-req-1",
        follow=True,
    )
    assert response.redirect_chain == [(f"/jobs/{awaiting.pk}/", 302)]
    page = response.content.decode()
    assert f"Job #{awaiting.pk} denied; nothing of it runs." in page
    assert 'id="approval-form"' not in page  # nothing left to decide
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.DENIED and awaiting.finished_at is not None
    assert awaiting.result == "Denied by alma-approver: not during the freeze"
    assert set(awaiting.steps.values_list("state", flat=True)) == {"skipped"}
    request = awaiting.approval_request
    assert (request.state, request.decided_by, request.decision) == (
        RequestState.DENIED,
        approver,
        "not during the freeze",
    )
    assert not Approval.objects.filter(job=awaiting).exists()
    entry = AuditEntry.objects.get(action="job.denied")
    assert (entry.actor, entry.object_type, entry.object_id, entry.cloud_slug) == (
        approver,
        "jobs.job",
        str(awaiting.pk),
        "demo",
    )
    assert entry.detail == {"reason": "not during the freeze", "plan_hash": request.plan_hash}
    assert (entry.request_id, entry.source_address) == ("deny-req-1", "127.0.0.1")


def test_self_approval_on_the_page_is_403(client_as, admin_user, demo_cloud, one_approval, no_worker):
    job = services.launch_job(admin_user, demo_cloud, "reconfigure", params={}, confirmed=True, reason="mine")
    client = client_as(admin_user)
    assert 'id="approval-form"' not in client.get(f"/jobs/{job.pk}/").content.decode()
    response = client.post(f"/approvals/jobs/{job.pk}/approve/")
    assert response.status_code == 403
    assert "approves a job they asked for themselves" in response.content.decode()


def test_the_queue_lists_what_you_may_approve_and_the_navigation_counts_it(
    client_as, approver, operator, viewer, awaiting
):
    page = client_as(approver).get("/approvals/").content.decode()
    assert f'data-job="{awaiting.pk}"' in page and 'id="nav-approvals-count">1<' in page
    # The requester, a viewer: nothing to approve.
    for user in (operator, viewer):
        page = client_as(user).get("/approvals/").content.decode()
        assert 'id="approval-queue-empty"' in page and "nav-approvals-count" not in page
    client_as(approver).post(f"/approvals/jobs/{awaiting.pk}/approve/")
    assert 'id="approval-queue-empty"' in client_as(approver).get("/approvals/").content.decode()


def test_the_queue_api_and_the_job_lists_show_the_state(api_as, client_as, approver, awaiting):
    assert [j["id"] for j in api_as(approver).get("/api/approvals/").json()] == [awaiting.pk]
    assert (
        api_as(approver).get("/api/jobs/", {"state": "awaiting_approval"}).json()["results"][0]["id"]
        == awaiting.pk
    )
    assert "awaiting approval" in client_as(approver).get("/jobs/").content.decode()
    assert "awaiting approval" in client_as(approver).get("/jobs/active/").content.decode()


def test_the_policy_is_edited_by_cloud_admins_and_audited(
    api_as, client_as, admin_user, operator, demo_cloud
):
    got = api_as(operator).get("/api/clouds/demo/approval-policy/").json()
    assert got["approvals_required"] == 0 and got["own"] is False  # the tests' default setting
    refused = api_as(operator).put(
        "/api/clouds/demo/approval-policy/", {"approvals_required": 2}, format="json"
    )
    assert refused.status_code == 403
    bad = api_as(admin_user).put(
        "/api/clouds/demo/approval-policy/", {"approvals_required": -1}, format="json"
    )
    assert bad.status_code == 400 and "approvals_required" in bad.json()
    unknown = api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"quorum": 2}, format="json")
    assert unknown.status_code == 400 and "quorum" in unknown.json()
    changes = {"approvals_required": 2, "request_ttl_hours": 8, "gates_need_approver": True}
    body = api_as(admin_user).put("/api/clouds/demo/approval-policy/", changes, format="json").json()
    assert body["own"] and body["approvals_required"] == 2 and body["updated_by"] == "ada-admin"
    entry = AuditEntry.objects.get(action="cloud.approval_policy_changed")
    assert entry.detail["before"]["approvals_required"] == 0 and entry.detail["after"] == {
        **changes,
        "emergency_allowed": True,
        "emergency_approvals": None,
    }
    assert entry.cloud_slug == "demo"
    page = client_as(operator).get("/clouds/demo/").content.decode()
    assert 'id="approval-policy"' in page and "<strong>2</strong> approvals" in page
    assert 'id="approval-policy-form"' not in page


def test_gates_need_an_approver_when_the_policy_says_so(
    api_as, operator, approver, admin_user, demo_cloud, no_worker, monkeypatch
):
    api_as(admin_user).put("/api/clouds/demo/approval-policy/", {"gates_need_approver": True}, format="json")
    job = services.launch_job(
        operator,
        demo_cloud,
        "cell-rollout",
        params={"target_release": "2025.2", "canary": "cell2"},
        confirmed=True,
    )
    services.transition(job, JobState.RUNNING)
    services.transition(job, JobState.WAITING)
    response = api_as(operator).post(
        f"/api/jobs/{job.pk}/continue/", {"reason": "canary fine"}, format="json"
    )
    assert response.status_code == 403 and "approver role to continue" in response.json()["detail"]
    both = UserFactory(username="bo-both", role="operator")
    grant_membership(admin_user, demo_cloud, both.username, "approver")
    response = api_as(both).post(f"/api/jobs/{job.pk}/continue/", {"reason": "canary fine"}, format="json")
    assert response.status_code == 202, response.content
