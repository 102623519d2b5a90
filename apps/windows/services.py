"""Change control: when a mutating job may start, releasing jobs into the queue, and the audited
changes to windows and freezes.

``release_when_open`` is the one place a job leaves for the queue under change control: launch
calls it for mutating jobs, the periodic ``release_due_jobs`` for scheduled ones whose time came,
and the approval workflow will call it for an approved job. Every change of a job's state here is
a conditional UPDATE whose row count is checked, so two beats never queue a job twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit.services import record, record_row_delete, row_snapshot
from apps.clouds.models import Cloud
from apps.clouds.permissions import CloudAction, can
from apps.jobs.live import publish_job_state
from apps.jobs.models import Job, JobState
from apps.windows import rules
from apps.windows.models import ChangeFreeze, MaintenanceWindow

log = logging.getLogger(__name__)
MAX_REASON = 500
# Freezes lie within these years: any instant then converts between zones without overflowing.
FIRST_YEAR, LAST_YEAR = 1970, 2999


# --- reading a cloud's calendar -------------------------------------------------------------------


def freezes_for(cloud: Cloud | None, after: datetime | None = None):
    """The freezes that apply to ``cloud`` (its own and every global one) and end after ``after``."""
    scope = Q(cloud__isnull=True) | Q(cloud=cloud) if cloud is not None else Q(cloud__isnull=True)
    freezes = ChangeFreeze.objects.filter(scope)
    if after is not None:
        freezes = freezes.filter(ends_at__gt=after)
    return freezes.order_by("starts_at", "id")


def calendar_of(cloud: Cloud, after: datetime | None = None) -> rules.Calendar:
    """``cloud``'s windows and the freezes that apply to it, as ``apps.windows.rules`` reads them.

    Freezes already over at ``after`` are left out: they cannot hold anything from then on.
    """
    return rules.Calendar(
        windows=tuple(w.as_rule() for w in MaintenanceWindow.objects.filter(cloud=cloud).order_by("id")),
        freezes=tuple(f.as_rule() for f in freezes_for(cloud, after)),
    )


def window_open(cloud: Cloud, at: datetime) -> bool:
    """Whether a mutating job may start on ``cloud`` at ``at``: inside one of its windows (or it has
    none) and inside no freeze."""
    return rules.is_open(calendar_of(cloud, at), at)


def next_opening(cloud: Cloud, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` at which a mutating job could start on ``cloud``,
    past every freeze; None when the cloud has no windows and no freeze holds then ("now")."""
    calendar = calendar_of(cloud, after)
    if not calendar.windows and rules.freeze_at(calendar, after) is None:
        return None
    return rules.opening_after(calendar, after)


def current_window(cloud: Cloud, at: datetime) -> rules.Occurrence | None:
    """The occurrence of one of ``cloud``'s windows that holds ``at`` (freezes aside), for display."""
    return rules.window_at(calendar_of(cloud, at), at)


@dataclass(frozen=True)
class WindowStatus:
    """What the cloud page and the API say about a cloud's change control at one instant."""

    open: bool
    restricted: bool  # the cloud has windows, or a freeze holds or is coming
    current: rules.Occurrence | None
    freeze: rules.Freeze | None
    next_opening: datetime | None
    opens_with: str
    reason: str


def window_status(cloud: Cloud, at: datetime) -> WindowStatus:
    """Whether ``cloud`` is open at ``at``, in which window, what holds it closed, and when it opens."""
    calendar = calendar_of(cloud, at)
    is_open = rules.is_open(calendar, at)
    opening = None if is_open else rules.opening_after(calendar, at)
    return WindowStatus(
        open=is_open,
        restricted=calendar.restricted,
        current=rules.window_at(calendar, at),
        freeze=rules.freeze_at(calendar, at),
        next_opening=opening,
        opens_with=rules.opening_reason(calendar, opening) if opening else "",
        reason=rules.closed_reason(calendar, at),
    )


# --- releasing jobs into the queue ----------------------------------------------------------------


def _wait_reason(calendar: rules.Calendar, at: datetime, opening: datetime | None) -> str:
    why = rules.closed_reason(calendar, at)
    if opening is None:
        return f"{why}; no window opens again: add one, or cancel the job"[:1000]
    return f"{why}; it starts when {rules.opening_reason(calendar, opening)} opens"[:1000]


@transaction.atomic
def release_when_open(job: Job, *, actor=None, now: datetime | None = None) -> Job:
    """Queue ``job`` if its cloud's window is open now, else schedule it for the next opening.

    Read-only jobs and emergency launches (``job.emergency``) are queued whatever the calendar
    says. ``job`` must be in a state that may become queued or scheduled (pending, or queued: a
    resumed job). A queued job is handed to a worker once the transaction commits, as at launch.
    The audit entry of a scheduled job says when and why; the caller audits the launch itself.
    """
    from apps.jobs.services import request_dispatch, transition

    now = now or timezone.now()
    calendar = calendar_of(job.cloud, now) if job.mutating else rules.Calendar()
    if not job.mutating or job.emergency or rules.is_open(calendar, now):
        if job.state != JobState.QUEUED:
            transition(job, JobState.QUEUED, queued_at=now, scheduled_for=None, scheduled_reason="")
        transaction.on_commit(request_dispatch)
        return job
    opening = rules.opening_after(calendar, now)
    reason = _wait_reason(calendar, now, opening)
    transition(job, JobState.SCHEDULED, scheduled_for=opening, scheduled_reason=reason, queued_at=None)
    record(
        actor,
        "job.scheduled",
        job,
        detail={"scheduled_for": opening.isoformat() if opening else None, "reason": reason},
    )
    transaction.on_commit(partial(publish_job_state, job))
    return job


def release_due_jobs(now: datetime | None = None, actor=None) -> list[int]:
    """Queue scheduled jobs whose window is open now; move the others to their next opening.

    Every scheduled job is looked at, not only those that are due: a freeze declared (or a window
    removed) since a job was scheduled moves it, and a window added brings it forward. Each change
    is a conditional UPDATE on the state and the time the job was scheduled for, so of two sweeps
    at once only one queues (or moves) a job, and only that one writes the audit entry. Returns the
    ids of the jobs queued.
    """
    from apps.jobs.services import request_dispatch

    now = now or timezone.now()
    released: list[int] = []
    calendars: dict[int, rules.Calendar] = {}
    scheduled = Job.objects.filter(state=JobState.SCHEDULED).select_related("cloud").order_by("id")
    for job in scheduled[:1000]:
        calendar = calendars.get(job.cloud_id)
        if calendar is None:
            calendar = calendars[job.cloud_id] = calendar_of(job.cloud, now)
        same = Job.objects.filter(pk=job.pk, state=JobState.SCHEDULED, scheduled_for=job.scheduled_for)
        with transaction.atomic():
            if job.emergency or rules.is_open(calendar, now):
                if same.update(state=JobState.QUEUED, queued_at=now):
                    job.state, job.queued_at = JobState.QUEUED, now
                    occ = rules.window_at(calendar, now)
                    record(
                        actor,
                        "job.window_opened",
                        job,
                        detail={"window": occ.window.describe() if occ else "", "queued_at": now.isoformat()},
                    )
                    transaction.on_commit(partial(publish_job_state, job))
                    released.append(job.pk)
                continue
            opening = rules.opening_after(calendar, now)
            if opening == job.scheduled_for:
                continue
            reason = _wait_reason(calendar, now, opening)
            if same.update(scheduled_for=opening, scheduled_reason=reason):
                record(
                    actor,
                    "job.rescheduled",
                    job,
                    detail={
                        "from": job.scheduled_for.isoformat() if job.scheduled_for else None,
                        "to": opening.isoformat() if opening else None,
                        "reason": reason,
                    },
                )
                log.info("job %s moved from %s to %s: %s", job.pk, job.scheduled_for, opening, reason)
    if released:
        log.info("maintenance windows opened for jobs %s; queued", released)
        transaction.on_commit(request_dispatch)
    return released


# --- changing windows and freezes -----------------------------------------------------------------


def _require_admin(actor, cloud: Cloud | None) -> None:
    if cloud is None:
        if not has_role(actor, Role.ADMIN):
            raise PermissionDenied(
                "You need the global admin role to declare or lift a freeze of every cloud."
            )
    elif not can(actor, CloudAction.ADMINISTER, cloud):
        raise PermissionDenied(f"You need the admin role on {cloud.slug} to change its windows and freezes.")


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _full_clean(obj) -> None:
    """Model validation, with the field errors of ``clean`` first (a clearer message than blanks)."""
    try:
        obj.clean()
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    obj.full_clean()


def window_duration(start: time, *, duration: timedelta | None = None, end: time | None = None) -> timedelta:
    """A window's length from its ``duration``, or from its ``end`` time (the next day when it is
    not after the start: 22:00–02:00 lasts four hours). Exactly one of them must be given."""
    if (duration is None) == (end is None):
        raise ValidationError({"duration": "give either a duration or an end time"})
    if duration is not None:
        return duration
    length = datetime.combine(datetime.min, end) - datetime.combine(datetime.min, start)
    if length == timedelta(0):
        raise ValidationError({"end_time": "the end equals the start; give a duration for a 24-hour window"})
    return length if length > timedelta(0) else length + timedelta(days=1)


@transaction.atomic
def create_window(
    actor,
    cloud: Cloud,
    *,
    weekdays: list[int],
    start_time: time,
    timezone_name: str,
    duration: timedelta | None = None,
    end_time: time | None = None,
    label: str = "",
    now: datetime | None = None,
) -> MaintenanceWindow:
    """Add a weekly maintenance window to ``cloud`` (its admins), audited with what it is.

    Jobs already scheduled on the cloud move to the opening this brings, if earlier.
    """
    _require_admin(actor, cloud)
    for field, value in (("start_time", start_time), ("end_time", end_time)):
        if isinstance(value, time) and value.tzinfo is not None:
            raise ValidationError(
                {field: "give a wall-clock time without an offset: the window's timezone applies"}
            )
    window = MaintenanceWindow(
        cloud=cloud,
        weekdays=sorted(weekdays) if isinstance(weekdays, list | tuple) else weekdays,
        start_time=start_time,
        duration=window_duration(start_time, duration=duration, end=end_time),
        timezone=timezone_name,
        label=(label or "").strip(),
        created_by=_user(actor),
    )
    _full_clean(window)
    window.save()
    record(actor, "maintenancewindow.create", window, detail={"after": row_snapshot(window)})
    release_due_jobs(now, actor)
    return window


@transaction.atomic
def delete_window(actor, cloud: Cloud, window_id: int, *, now: datetime | None = None) -> None:
    """Remove one of ``cloud``'s windows (its admins), audited with what it was.

    Jobs scheduled into it move to the next opening that remains.
    """
    _require_admin(actor, cloud)
    window = MaintenanceWindow.objects.filter(cloud=cloud, pk=window_id).first()
    if window is None:
        raise ValidationError({"window": f"no maintenance window #{window_id} on {cloud.slug}"})
    record_row_delete(actor, window)
    window.delete()
    release_due_jobs(now, actor)


def _aware(value: datetime, tz_name: str, field: str) -> datetime:
    """``value`` as an aware instant: a naive one is wall-clock time in ``tz_name``."""
    if not isinstance(value, datetime):
        raise ValidationError({field: "a date and time is required"})
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValidationError({field: f"a year from {FIRST_YEAR} to {LAST_YEAR}"})
    if timezone.is_naive(value):
        return value.replace(tzinfo=rules.zone(tz_name))
    return value


@transaction.atomic
def create_freeze(
    actor,
    cloud: Cloud | None,
    *,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    timezone_name: str = "UTC",
    now: datetime | None = None,
) -> ChangeFreeze:
    """Declare a change freeze on ``cloud`` (its admins) or, with ``cloud`` None, on every cloud
    (global admins). Naive times are read in ``timezone_name``. Audited with what it is; jobs
    scheduled into it move to the first opening after it.
    """
    _require_admin(actor, cloud)
    try:
        rules.zone(timezone_name)
    except ValueError as exc:
        raise ValidationError({"timezone": str(exc)}) from None
    freeze = ChangeFreeze(
        cloud=cloud,
        starts_at=_aware(starts_at, timezone_name, "starts_at"),
        ends_at=_aware(ends_at, timezone_name, "ends_at"),
        timezone=timezone_name,
        reason=(reason or "").strip(),
        created_by=_user(actor),
    )
    _full_clean(freeze)
    freeze.save()
    record(actor, "changefreeze.create", freeze, detail={"after": row_snapshot(freeze)})
    release_due_jobs(now, actor)
    return freeze


@transaction.atomic
def delete_freeze(actor, cloud: Cloud | None, freeze_id: int, *, now: datetime | None = None) -> None:
    """Lift a freeze of ``cloud`` (its admins), or a global one with ``cloud`` None (global admins).

    Audited with what it was; jobs it held back move to the opening that now comes first.
    """
    _require_admin(actor, cloud)
    freeze = ChangeFreeze.objects.filter(cloud=cloud, pk=freeze_id).first()
    if freeze is None:
        scope = cloud.slug if cloud is not None else "every cloud"
        raise ValidationError({"freeze": f"no change freeze #{freeze_id} of {scope}"})
    record_row_delete(actor, freeze)
    freeze.delete()
    release_due_jobs(now, actor)


def emergency_reason(actor, cloud: Cloud, reason: object) -> str:
    """The reason of an emergency launch on ``cloud``: required, at most ``MAX_REASON`` long, and only
    from someone who may operate the cloud. (Approvals will ask more of emergencies: see Job.emergency.)"""
    if not can(actor, CloudAction.OPERATE, cloud):
        raise PermissionDenied(f"You need the operator role on {cloud.slug} to launch an emergency job.")
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError(
            {"emergency_reason": "required: say why this cannot wait for a maintenance window (audited)"}
        )
    if len(text) > MAX_REASON:
        raise ValidationError({"emergency_reason": f"at most {MAX_REASON} characters (got {len(text)})"})
    return text
