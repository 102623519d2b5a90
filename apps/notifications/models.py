"""Notifications: the outbox of messages to deliver, and each cloud's webhook.

A change that people should hear about (a job awaiting approval, approved, started, ended…) writes
``Outbox`` rows in its own transaction (``apps.notifications.services.notify``); the periodic sweep
delivers them (``apps.notifications.delivery.deliver_due``), retrying with backoff, so a mail
server or webhook that is down loses nothing and a change rolled back sends nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apps.clouds.models import Cloud
from apps.jobs.models import Job

WEBHOOK_SCHEMES = ("http", "https")


class Channel(models.TextChoices):
    EMAIL = "email", "email"
    WEBHOOK = "webhook", "webhook"


class OutboxState(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"  # gave up after FERRY_NOTIFY_MAX_ATTEMPTS attempts


class Outbox(models.Model):
    """One message to deliver: an email to one address or one webhook POST to one URL.

    ``next_attempt_at`` is when a deliverer may take it next: a deliverer that takes a row pushes it
    a lease ahead, so no other deliverer sends it meanwhile; a failure sets it to the backoff.
    """

    channel = models.CharField(max_length=16, choices=Channel.choices)
    recipient = models.CharField(max_length=2048, help_text="an email address, or the webhook's URL")
    event = models.CharField(max_length=64, help_text="what happened, e.g. job.approval_requested")
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True, help_text="the email's plain text")
    payload = models.JSONField(null=True, blank=True, help_text="the webhook's JSON body")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cloud = models.ForeignKey(Cloud, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "outbox message"
        indexes = [
            # What the deliverer asks every few seconds: pending rows whose time has come.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="outbox_pending_due",
            ),
            # The dashboard counts what Ferry gave up on; sent rows are most of the table.
            models.Index(fields=["id"], condition=models.Q(state="failed"), name="outbox_failed"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.recipient} ({self.state})"


def validate_webhook_url(value: str) -> None:
    """A webhook URL is http or https with a host."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in WEBHOOK_SCHEMES or not parts.hostname:
        raise ValidationError(f"an http:// or https:// URL with a host, got {value[:100]!r}")


class NotificationSettings(models.Model):
    """One cloud's webhook: every event of the cloud is POSTed there as JSON, signed with
    HMAC-SHA256 of the raw body under ``secret`` (stored encrypted like the cloud's passwords)."""

    cloud = models.OneToOneField(Cloud, on_delete=models.CASCADE, related_name="notification_settings")
    webhook_url = models.CharField(max_length=2048, blank=True, validators=[validate_webhook_url])
    secret_encrypted = models.TextField(blank=True, help_text="the signing secret, encrypted (Fernet)")
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notification settings of {self.cloud_id}"
