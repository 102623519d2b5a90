"""Maintenance windows and change freezes: when mutating jobs may start on a cloud.

The rules themselves live in ``apps.windows.rules`` on plain values; these models store them and
turn a row into its rule (``as_rule``).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from apps.clouds.models import Cloud
from apps.windows import rules


def _check_zone(name: str, errors: dict[str, str]) -> None:
    try:
        rules.zone(name)
    except ValueError as exc:
        errors["timezone"] = str(exc)


class MaintenanceWindow(models.Model):
    """A weekly window of a cloud in which mutating jobs may start, e.g. Saturdays 01:00–05:00
    Europe/Berlin. A cloud without any window is always open (outside freezes); with windows, a
    mutating job launched outside all of them is scheduled for the next opening.

    ``start_time`` is wall-clock time in ``timezone``, and so is the end (start plus ``duration``),
    whatever the clocks do that night; a window may cross midnight and last up to seven days.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="maintenance_windows")
    weekdays = models.JSONField(help_text="the days it opens on: 0 = Monday … 6 = Sunday")
    start_time = models.TimeField(help_text="wall-clock time it opens, in its time zone")
    duration = models.DurationField(help_text="how long it stays open: more than 0, at most 7 days")
    timezone = models.CharField(max_length=64, help_text="IANA time zone, e.g. Europe/Berlin")
    label = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cloud", "id"]

    def __str__(self) -> str:
        return f"{self.cloud} {self.as_rule().describe()}" if self.cloud_id else "maintenance window"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        days = self.weekdays
        if (
            not isinstance(days, list)
            or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days)
        ):
            errors["weekdays"] = "name one or more days, 0 (Monday) to 6 (Sunday)"
        elif len(set(days)) != len(days):
            errors["weekdays"] = "each day at most once"
        _check_zone(self.timezone, errors)
        if self.duration is None or self.duration <= timedelta(0):
            errors["duration"] = "a window must stay open for some time (more than 0)"
        elif self.duration > rules.MAX_DURATION:
            errors["duration"] = "at most 7 days: a longer window is no window; remove the windows instead"
        if errors:
            raise ValidationError(errors)

    def as_rule(self) -> rules.Window:
        """The window as ``apps.windows.rules`` reads it."""
        return rules.Window(
            weekdays=frozenset(self.weekdays),
            start=self.start_time,
            duration=self.duration,
            timezone=self.timezone,
            label=self.label,
            id=self.pk,
        )


class ChangeFreeze(models.Model):
    """A period in which no mutating job starts: on one cloud, or on every cloud (``cloud`` null).

    It holds from ``starts_at`` until ``ends_at`` (stored in UTC); ``timezone`` is the zone the
    times were given in, used to show them. Jobs scheduled into a freeze move to the next opening.
    """

    cloud = models.ForeignKey(
        Cloud,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="change_freezes",
        help_text="empty: every cloud",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, default="UTC", help_text="the zone the times were given in")
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["ends_at"], name="freeze_ends_at")]

    def __str__(self) -> str:
        scope = self.cloud.slug if self.cloud_id else "every cloud"
        return f"freeze of {scope} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M} UTC"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        _check_zone(self.timezone, errors)
        if not (self.reason or "").strip():
            errors["reason"] = "say why nothing may change (it is shown with every job it holds back)"
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "the end must come after the start"
        if errors:
            raise ValidationError(errors)

    def as_rule(self) -> rules.Freeze:
        """The freeze as ``apps.windows.rules`` reads it."""
        return rules.Freeze(
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            reason=self.reason,
            timezone=self.timezone,
            global_=self.cloud_id is None,
            id=self.pk,
        )
