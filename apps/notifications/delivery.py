"""Sending what the outbox holds: emails through Django's email backend, webhooks as signed JSON
POSTs. Run by the periodic sweep (``apps.jobs.tasks.sweep``) in both shapes.

A deliverer takes one due row at a time with ``SELECT … FOR UPDATE SKIP LOCKED`` and, in that short
transaction, pushes it a lease ahead and counts the attempt; it sends it after committing, so no lock
(and on SQLite no write lock) is held while a mail server or webhook answers. Two deliverers never
take one row: the second skips it while it is locked and finds it leased once it is not. A deliverer
that dies mid-send leaves its row to be taken again when the lease ends (at least once delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.clouds.secrets import decrypt
from apps.notifications.models import Channel, NotificationSettings, Outbox, OutboxState

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)  # longer than any one send may take (SMTP and webhook timeouts)
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
SIGNATURE_HEADER = "X-Ferry-Signature"
EVENT_HEADER = "X-Ferry-Event"


class DeliveryError(Exception):
    """A message could not be delivered this time; the outbox tries it again later."""


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 30 s, 60 s, 120 s … at most 1 h."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def webhook_body(payload: dict) -> bytes:
    """The exact bytes POSTed (and signed) for ``payload``."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The ``X-Ferry-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_email(row: Outbox) -> None:
    """Send one email row through the configured backend (console when embedded, SMTP in production)."""
    EmailMessage(subject=row.subject, body=row.body, to=[row.recipient]).send(fail_silently=False)


def send_webhook(row: Outbox) -> None:
    """POST one webhook row to its URL, signed with its cloud's current secret; any answer but 2xx fails."""
    hook = NotificationSettings.objects.filter(cloud_id=row.cloud_id).first()
    if hook is None or not hook.secret_encrypted:
        raise DeliveryError("the cloud's webhook has no secret any more")
    body = webhook_body(row.payload or {})
    request = urllib.request.Request(
        row.recipient,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Ferry",
            EVENT_HEADER: row.event,
            SIGNATURE_HEADER: sign(body, decrypt(hook.secret_encrypted)),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.FERRY_WEBHOOK_TIMEOUT) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} from the webhook") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status} from the webhook")


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: send_webhook}


def _take_due(now: datetime) -> Outbox | None:
    """Lock the next due pending row no one else has locked, lease it and count the attempt."""
    with transaction.atomic():
        row = (
            Outbox.objects.select_for_update(skip_locked=True)
            .filter(state=OutboxState.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if row is None:
            return None
        Outbox.objects.filter(pk=row.pk).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    row.attempts += 1
    return row


def _settle(row: Outbox, error: str, now: datetime) -> None:
    if not error:
        Outbox.objects.filter(pk=row.pk).update(state=OutboxState.SENT, sent_at=timezone.now(), last_error="")
        return
    if row.attempts >= settings.FERRY_NOTIFY_MAX_ATTEMPTS:
        Outbox.objects.filter(pk=row.pk).update(state=OutboxState.FAILED, last_error=error[:2000])
        log.warning(
            "gave up on %s notification %s (%s to %s) after %d attempts: %s",
            row.channel,
            row.pk,
            row.event,
            row.recipient,
            row.attempts,
            error,
        )
        return
    Outbox.objects.filter(pk=row.pk).update(
        next_attempt_at=now + backoff(row.attempts), last_error=error[:2000]
    )
    log.info("%s notification %s failed (attempt %d), retrying: %s", row.channel, row.pk, row.attempts, error)


def deliver_due(now: datetime | None = None, limit: int = 50, *, seconds: float | None = None) -> int:
    """Send up to ``limit`` pending messages whose time has come, one row at a time; the number sent.

    ``seconds``, when given, stops taking further rows once that long has passed (the sweep's
    budget: reaping lost jobs must not wait behind a slow mail server). A failure counts an attempt,
    keeps the error and tries again after an exponential backoff; after ``FERRY_NOTIFY_MAX_ATTEMPTS``
    attempts the row is ``failed`` and a warning is logged.
    """
    now = now or timezone.now()
    deadline = time.monotonic() + seconds if seconds is not None else None
    sent = 0
    for _ in range(limit):
        if deadline is not None and time.monotonic() >= deadline:
            break
        row = _take_due(now)
        if row is None:
            break
        try:
            SENDERS[row.channel](row)
            error = ""
        except Exception as exc:  # any failure of a backend or a receiver: retried, never raised
            error = str(exc) or type(exc).__name__
        _settle(row, error, now)
        sent += not error
    return sent
