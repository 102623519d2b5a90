"""Which changes write notifications, to whom, and what the emails say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.approvals.models import ApprovalPolicy
from apps.approvals.services import approve_job, deny_job, expire_requests
from apps.clouds import services as cloud_services
from apps.clouds.members import grant_membership
from apps.jobs import services
from apps.jobs.execution import _finish
from apps.jobs.models import JobState
from apps.jobs.services import transition
from apps.notifications.delivery import deliver_due
from apps.notifications.models import Channel, Outbox
from apps.notifications.services import notify
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def emails(event: str) -> set[str]:
    return set(Outbox.objects.filter(event=event, channel=Channel.EMAIL).values_list("recipient", flat=True))


def test_a_rolled_back_change_writes_no_notification(awaiting, approver):
    class Rollback(Exception):
        pass

    Outbox.objects.all().delete()
    with pytest.raises(Rollback), transaction.atomic():
        deny_job(approver, awaiting, reason="not this week")
        assert emails("job.denied") == {"otto-operator@ferry.invalid"}  # written in the same transaction
        raise Rollback
    assert not Outbox.objects.exists()


def test_approval_request_goes_to_the_approvers_of_that_cloud_only(
    one_approval, operator, approver, admin_user, demo_cloud, catalog, no_worker
):
    other = cloud_services.create_cloud(
        None, slug="other", release="2025.1", globals_yml="", passwords_yml=""
    )
    local = UserFactory(username="lou-local")
    grant_membership(admin_user, demo_cloud, local.username, "approver")
    elsewhere = UserFactory(username="eli-elsewhere")
    grant_membership(admin_user, other, elsewhere.username, "approver")
    UserFactory(username="nomail-approver", role="approver", email="")
    UserFactory(username="gone-approver", role="approver", is_active=False)
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True, reason="why")
    assert emails("job.approval_requested") == {
        "alma-approver@ferry.invalid",
        "ada-admin@ferry.invalid",  # admins hold every role
        "lou-local@ferry.invalid",
    }
    assert Outbox.objects.filter(job=job).count() == 3


def test_requester_who_approves_is_never_asked_to_approve_their_own_job(
    one_approval, admin_user, approver, demo_cloud, no_worker
):
    both = UserFactory(username="bo-both", role="operator")
    grant_membership(admin_user, demo_cloud, both.username, "approver")
    services.launch_job(both, demo_cloud, "reconfigure", params={}, confirmed=True, reason="mine")
    recipients = emails("job.approval_requested")
    assert "bo-both@ferry.invalid" not in recipients and "alma-approver@ferry.invalid" in recipients


def test_approval_request_email_says_what_and_links_the_job(awaiting, approver, mailoutbox, settings):
    settings.FERRY_BASE_URL = "https://ferry.example.com/"
    Outbox.objects.all().delete()
    notify("job.approval_requested", awaiting, actor=awaiting.requested_by, detail={"reason": "new images"})
    assert deliver_due() == 1
    (mail,) = mailoutbox
    assert mail.to == ["alma-approver@ferry.invalid"]
    assert mail.subject == f"[Ferry] Job #{awaiting.pk} (deploy on demo) awaits your approval"
    assert "otto-operator asks to run deploy on demo" in mail.body
    assert "Reason: new images" in mail.body
    assert f"approve or deny it: https://ferry.example.com/jobs/{awaiting.pk}/" in mail.body


def test_launch_mails_the_approvers_through_the_backend(approver, awaiting, mailoutbox):
    assert deliver_due() == 1
    (mail,) = mailoutbox
    assert mail.to == ["alma-approver@ferry.invalid"] and "awaits your approval" in mail.subject
    assert Outbox.objects.get().state == "sent"


def test_approved_mails_the_requester_not_the_approver(awaiting, approver, mailoutbox):
    Outbox.objects.all().delete()
    approve_job(approver, awaiting, reason="looks right")
    assert deliver_due() == 1
    (mail,) = mailoutbox
    assert mail.to == ["otto-operator@ferry.invalid"]
    assert mail.subject.endswith("approved")
    assert "alma-approver approved your job" in mail.body and "(1 of 1)" in mail.body
    assert "It is queued" in mail.body


def test_denied_mails_the_requester_with_the_reason(awaiting, approver, mailoutbox):
    Outbox.objects.all().delete()
    deny_job(approver, awaiting, reason="not during the freeze")
    deliver_due()
    (mail,) = mailoutbox
    assert mail.to == ["otto-operator@ferry.invalid"] and mail.subject.endswith("denied")
    assert "alma-approver denied your job" in mail.body and "not during the freeze" in mail.body
    assert "Nothing of it ran" in mail.body


def test_expired_mails_the_requester(awaiting):
    Outbox.objects.all().delete()
    assert expire_requests(timezone.now() + timedelta(hours=73)) == [awaiting.pk]
    assert emails("job.expired") == {"otto-operator@ferry.invalid"}


@pytest.mark.parametrize("outcome", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED])
def test_a_job_that_ends_mails_its_requester(operator, demo_cloud, no_worker, mailoutbox, outcome):
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    assert not Outbox.objects.exists()  # queued without approval: nobody to tell yet
    transition(job, JobState.RUNNING, worker="w1", heartbeat_at=timezone.now())
    if outcome == JobState.CANCELED:
        services.cancel_job(operator, job)  # running: only asks the worker to stop, nobody is told yet
        assert not Outbox.objects.exists()
    _finish(job, outcome, None)
    deliver_due()
    (mail,) = mailoutbox
    assert mail.to == ["otto-operator@ferry.invalid"]
    assert mail.subject == f"[Ferry] Job #{job.pk} (reconfigure on demo) {outcome}"
    assert f"Your job #{job.pk} {outcome}" in mail.body and f"/jobs/{job.pk}/" in mail.body


def test_lost_job_mails_its_requester(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    transition(job, JobState.RUNNING, worker="w1", heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert services.reap_lost_jobs() == [job.pk]
    assert emails("job.lost") == {"otto-operator@ferry.invalid"}


def test_a_job_starting_mails_its_requester(operator, demo_cloud, no_worker, monkeypatch):
    from apps.jobs import execution

    monkeypatch.setattr(execution, "_run_steps", lambda job, control: None)
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    services.dispatch()
    execution.execute_job(job.pk, worker="w1")
    assert emails("job.started") == {"otto-operator@ferry.invalid"}


@pytest.mark.parametrize("gates_need_approver", [False, True])
def test_a_job_at_a_gate_mails_its_requester_and_who_may_continue_it(
    operator, approver, viewer, admin_user, demo_cloud, no_worker, gates_need_approver
):
    ApprovalPolicy.objects.create(
        cloud=demo_cloud, approvals_required=0, request_ttl_hours=1, gates_need_approver=gates_need_approver
    )
    other_operator = UserFactory(username="olga-operator", role="operator")
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    transition(job, JobState.RUNNING, worker="w1", heartbeat_at=timezone.now())
    gate = job.steps.first()
    _finish(job, JobState.WAITING, gate)
    job.refresh_from_db()
    assert job.state == JobState.WAITING
    mails = {row.recipient: row for row in Outbox.objects.filter(event="job.waiting")}
    continuers = {"alma-approver@ferry.invalid"} if gates_need_approver else {"olga-operator@ferry.invalid"}
    assert set(mails) == {"otto-operator@ferry.invalid", "ada-admin@ferry.invalid"} | continuers
    assert mails["otto-operator@ferry.invalid"].body.startswith(f"Your job #{job.pk} waits at a gate")
    assert "continue or abort it" in mails[admin_user.email].body
    assert other_operator.email not in mails or not gates_need_approver


def test_the_actor_is_not_mailed_about_their_own_cancel(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    services.cancel_job(operator, job)
    assert not emails("job.canceled")
    other = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    services.cancel_job(UserFactory(username="oz-operator", role="operator"), other)
    assert emails("job.canceled") == {"otto-operator@ferry.invalid"}


def test_a_withdrawn_request_tells_the_approvers_it_left_their_queue(
    awaiting, operator, approver, mailoutbox
):
    Outbox.objects.all().delete()

    services.cancel_job(operator, awaiting)

    # The requester withdrew it themselves: only the approvers hear of it.
    assert emails("job.canceled") == {"alma-approver@ferry.invalid"}
    row = Outbox.objects.get(event="job.canceled", recipient="alma-approver@ferry.invalid")
    assert row.subject == f"[Ferry] Job #{awaiting.pk} (deploy on demo) withdrawn: nothing to approve"
    assert "otto-operator withdrew" in row.body and "nothing of it ran" in row.body


def test_a_queued_job_canceled_tells_its_requester_not_the_approvers(
    operator, admin_user, demo_cloud, no_worker
):
    job = services.launch_job(operator, demo_cloud, "reconfigure", params={}, confirmed=True)
    Outbox.objects.all().delete()

    services.cancel_job(admin_user, job)

    assert emails("job.canceled") == {"otto-operator@ferry.invalid"}
