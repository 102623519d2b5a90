"""The fleet at a glance: the clouds a user may see by release series and support status, the jobs
that wait for a person (at a gate, or for approval), and what is scheduled for a maintenance window.

Three queries whatever the size of the fleet (plus the one or two that find the user's roles): the
clouds with their releases, the jobs that need attention, and the scheduled jobs.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import F

from apps.catalog.models import Release, ReleaseStatus
from apps.clouds.models import Cloud, CloudState
from apps.clouds.permissions import clouds_for
from apps.jobs.models import Job, JobState

# Job states in which a job waits for someone rather than for a worker.
NEEDS_ATTENTION = (JobState.WAITING, JobState.AWAITING_APPROVAL)
ATTENTION_SHOWN = 100


@dataclass
class SeriesGroup:
    """The clouds that run one release series (``release`` None: not deployed yet)."""

    release: Release | None
    status: str = ""
    status_label: str = ""
    next_change: tuple[str, datetime.date] | None = None
    clouds: list[Cloud] = field(default_factory=list)


@dataclass
class Fleet:
    """What the dashboard shows of the clouds a user may see."""

    groups: list[SeriesGroup]
    cloud_count: int
    by_state: list[tuple[str, int]]  # every cloud state, in CloudState's order, with its count
    by_status: list[tuple[str, str, int]]  # (status, label, clouds) for the statuses clouds are in
    attention: list[Job]
    attention_more: bool
    scheduled: list[Job]  # approved or launched outside their windows, soonest first
    scheduled_more: bool


def fleet(user) -> Fleet:
    """The fleet as ``user`` may see it: clouds by release series, newest series first, each with its
    support status today and next status change; cloud counts per state and per support status; the
    jobs that need attention, oldest first."""
    visible = clouds_for(user)
    groups: dict[str | None, SeriesGroup] = {}
    for cloud in visible.select_related("release").order_by("slug"):
        series = cloud.release.series if cloud.release_id else None
        if series not in groups:
            groups[series] = _group(cloud.release)
        groups[series].clouds.append(cloud)
    ordered = sorted(groups.values(), key=lambda g: -g.release.position if g.release else 1)
    clouds = [cloud for group in ordered for cloud in group.clouds]
    states = Counter(cloud.state for cloud in clouds)
    statuses = Counter(group.status for group in ordered for _ in group.clouds if group.release)
    attention = list(
        Job.objects.filter(state__in=NEEDS_ATTENTION, cloud__in=visible)
        .select_related("cloud", "requested_by")
        .order_by("id")[: ATTENTION_SHOWN + 1]
    )
    scheduled = list(
        Job.objects.filter(state=JobState.SCHEDULED, cloud__in=visible)
        .select_related("cloud", "requested_by")
        .order_by(F("scheduled_for").asc(nulls_last=True), "id")[: ATTENTION_SHOWN + 1]
    )
    return Fleet(
        groups=ordered,
        cloud_count=len(clouds),
        by_state=[(state.value, states.get(state.value, 0)) for state in CloudState],
        by_status=[(s.value, s.label, statuses[s.value]) for s in ReleaseStatus if statuses[s.value]],
        attention=attention[:ATTENTION_SHOWN],
        attention_more=len(attention) > ATTENTION_SHOWN,
        scheduled=scheduled[:ATTENTION_SHOWN],
        scheduled_more=len(scheduled) > ATTENTION_SHOWN,
    )


def _group(release: Release | None) -> SeriesGroup:
    if release is None:
        return SeriesGroup(release=None)
    return SeriesGroup(
        release=release,
        status=release.current_status,
        status_label=release.current_status_label,
        next_change=release.next_change,
    )
