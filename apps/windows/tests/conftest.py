"""Windows that are open or closed now, whatever the day the tests run."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from apps.windows.models import MaintenanceWindow


def always_open(cloud) -> MaintenanceWindow:
    """A window that holds every instant: every day, for seven days."""
    return MaintenanceWindow.objects.create(
        cloud=cloud, weekdays=list(range(7)), start_time=time(0), duration=timedelta(days=7), timezone="UTC"
    )


def closed_now(cloud, label: str = "patch night") -> MaintenanceWindow:
    """A one-hour window three days from now at 12:00 UTC: closed now, opening at a known instant."""
    day = timezone.now().astimezone(UTC) + timedelta(days=3)
    return MaintenanceWindow.objects.create(
        cloud=cloud,
        weekdays=[day.weekday()],
        start_time=time(12),
        duration=timedelta(hours=1),
        timezone="UTC",
        label=label,
    )


def opening_of(window: MaintenanceWindow) -> datetime:
    """The instant the ``closed_now`` window opens next."""
    day = (timezone.now().astimezone(UTC) + timedelta(days=3)).date()
    return datetime.combine(day, window.start_time, tzinfo=UTC)
