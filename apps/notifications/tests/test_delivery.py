"""Delivering the outbox: signed webhooks to a local receiver, retries with backoff, giving up,
and two deliverers at once."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.jobs import services
from apps.jobs.tasks import sweep
from apps.notifications import delivery
from apps.notifications.delivery import backoff, deliver_due
from apps.notifications.models import Channel, Outbox, OutboxState
from apps.notifications.services import update_settings

from .conftest import SECRET, Receiver

pytestmark = pytest.mark.django_db


def test_webhook_is_signed_and_the_receiver_verifies_it(hooked, awaiting, approver):
    row = Outbox.objects.get(channel=Channel.WEBHOOK, event="job.approval_requested")
    assert row.recipient == hooked.url
    assert deliver_due() >= 1
    (call,) = hooked.calls
    assert call["valid"] and call["event"] == "job.approval_requested"
    body = call["json"]
    assert body["event"] == "job.approval_requested" and body["actor"] == "otto-operator"
    assert body["job"] == {
        "id": awaiting.pk,
        "kind": "deploy",
        "state": "awaiting_approval",
        "cloud": "demo",
        "url": f"http://127.0.0.1:8000/jobs/{awaiting.pk}/",
    }
    assert body["at"]
    row.refresh_from_db()
    assert row.state == OutboxState.SENT and row.attempts == 1 and row.sent_at is not None


def test_a_wrong_signature_is_refused_and_retried(hooked, awaiting):
    hooked.secret = "not-the-secret-ferry-signs-with"
    deliver_due()
    assert hooked.calls and not hooked.calls[0]["valid"]
    row = Outbox.objects.get(channel=Channel.WEBHOOK)
    assert row.state == OutboxState.PENDING and row.last_error == "HTTP 401 from the webhook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_webhook_that_is_down_is_retried_with_backoff_and_delivered_once_up(
    admin_user, demo_cloud, awaiting
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    update_settings(admin_user, demo_cloud, {"webhook_url": url, "secret": SECRET, "enabled": True})
    Outbox.objects.all().delete()
    services.cancel_job(admin_user, awaiting)  # an event of the cloud, now with its webhook on
    row = Outbox.objects.get(channel=Channel.WEBHOOK)
    now = timezone.now()
    assert deliver_due(now) == 1  # the requester's email; the webhook refuses the connection
    row.refresh_from_db()
    assert row.state == OutboxState.PENDING and row.attempts == 1
    assert "unreachable" in row.last_error
    assert row.next_attempt_at == now + timedelta(seconds=30)
    assert deliver_due(now + timedelta(seconds=29)) == 0  # not yet
    assert deliver_due(now + timedelta(seconds=30)) == 0  # still down: 60 s next
    row.refresh_from_db()
    assert row.attempts == 2 and row.next_attempt_at == now + timedelta(seconds=30 + 60)
    up = Receiver(SECRET, port=port)  # the receiver comes back
    try:
        assert deliver_due(now + timedelta(seconds=90)) == 1
        assert deliver_due(now + timedelta(hours=2)) == 0  # sent once, never again
    finally:
        up.stop()
    row.refresh_from_db()
    assert row.state == OutboxState.SENT and row.attempts == 3 and row.last_error == ""
    assert len(up.calls) == 1 and up.calls[0]["valid"] and up.calls[0]["event"] == "job.canceled"


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(8).total_seconds() == 3600 and backoff(30).total_seconds() == 3600


def test_after_the_last_attempt_the_row_fails_with_a_warning(
    approver, awaiting, settings, monkeypatch, caplog
):
    settings.FERRY_NOTIFY_MAX_ATTEMPTS = 3

    def refuse(row):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setitem(delivery.SENDERS, Channel.EMAIL, refuse)
    now = timezone.now()
    with caplog.at_level(logging.WARNING, logger="apps.notifications.delivery"):
        for hours in range(3):
            assert deliver_due(now + timedelta(hours=hours)) == 0
    row = Outbox.objects.get()
    assert row.state == OutboxState.FAILED and row.attempts == 3 and row.last_error == "mail server down"
    assert "gave up on email notification" in caplog.text
    monkeypatch.setitem(delivery.SENDERS, Channel.EMAIL, lambda row: None)
    assert deliver_due(now + timedelta(days=1)) == 0  # failed rows stay failed


def test_a_notification_given_up_on_is_sent_again_from_the_admin_once_the_server_is_back(
    approver, awaiting, settings, monkeypatch, admin_client, admin_user, mailoutbox
):
    settings.FERRY_NOTIFY_MAX_ATTEMPTS = 1

    def refuse(row):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setitem(delivery.SENDERS, Channel.EMAIL, refuse)
    deliver_due()
    failed = Outbox.objects.get()
    assert failed.state == OutboxState.FAILED
    sent = Outbox.objects.create(
        channel=Channel.EMAIL,
        recipient="x@example.com",
        event="job.started",
        state=OutboxState.SENT,
        next_attempt_at=timezone.now(),
        attempts=1,
    )
    monkeypatch.undo()

    page = admin_client.post(
        "/admin/notifications/outbox/",
        {"action": "send_again", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert "1 failed notification(s) queued to be sent again." in page.content.decode()
    failed.refresh_from_db()
    assert failed.state == OutboxState.PENDING and failed.attempts == 0
    assert Outbox.objects.get(pk=sent.pk).state == OutboxState.SENT  # a sent one is not sent twice
    entry = AuditEntry.objects.get(action="notification.sent_again")
    assert entry.actor_name == admin_user.username and entry.detail == {"event": failed.event, "attempts": 1}

    assert deliver_due() == 1
    assert len(mailoutbox) == 1 and Outbox.objects.get(pk=failed.pk).state == OutboxState.SENT


def test_the_sweep_delivers_and_survives_a_broken_deliverer(approver, awaiting, mailoutbox, monkeypatch):
    sweep()
    assert len(mailoutbox) == 1

    def broken(**kwargs):
        raise RuntimeError("outbox unreadable")

    monkeypatch.setattr(delivery, "deliver_due", broken)
    sweep()  # logs and goes on


def test_the_sweep_stops_taking_rows_past_its_budget(approver, awaiting, monkeypatch):
    monkeypatch.setattr(delivery.time, "monotonic", iter([0.0, 10.0, 10.0, 10.0]).__next__)
    assert deliver_due(seconds=3.0) == 0
    assert Outbox.objects.get().state == OutboxState.PENDING


@pytest.mark.django_db(transaction=True)
def test_two_deliverers_at_once_send_each_row_once(postgresql, awaiting, monkeypatch):
    Outbox.objects.all().delete()
    now = timezone.now()
    rows = [
        Outbox(
            channel=Channel.EMAIL,
            recipient=f"r{n}@ferry.invalid",
            event="job.started",
            next_attempt_at=now,
        )
        for n in range(40)
    ]
    Outbox.objects.bulk_create(rows)
    sent: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    def slow_send(row):
        with lock:
            sent.append(row.recipient)

    monkeypatch.setitem(delivery.SENDERS, Channel.EMAIL, slow_send)
    counts: list[int] = []

    def deliverer():
        try:
            start.wait(timeout=10)
            counts.append(deliver_due(limit=100))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == sorted(f"r{n}@ferry.invalid" for n in range(40))  # each once
    assert sum(counts) == 40
    assert set(Outbox.objects.values_list("state", flat=True)) == {OutboxState.SENT}
    assert set(Outbox.objects.values_list("attempts", flat=True)) == {1}


def test_the_dashboard_counts_notifications_given_up_on(client_as, admin_user, operator):
    page = client_as(operator).get("/")
    assert b"failed-notifications" not in page.content
    for state in (OutboxState.FAILED, OutboxState.FAILED, OutboxState.SENT):
        Outbox.objects.create(
            channel=Channel.EMAIL,
            recipient="x@ferry.invalid",
            event="job.started",
            state=state,
            next_attempt_at=timezone.now(),
        )
    page = client_as(operator).get("/")
    assert b"2 notifications could not be delivered and were given up on." in page.content
    page = client_as(admin_user).get("/")
    assert b"/admin/notifications/outbox/?state__exact=failed" in page.content
