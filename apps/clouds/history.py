"""A cloud's upgrade history: every release change it went through, one row per job that made it.

:class:`~apps.clouds.models.ReleaseChange` keeps one entry per hop (the worker writes one each time
a step that completes a release succeeds). People think in jobs: a fast-forward upgrade from 2023.1
to 2025.1 is one change with two hops, a rollback is one change downwards, the deploy that first set
a release is a change from nothing. This module folds the hops into those rows with a fixed number
of queries, whatever the number of changes: one for the rows (the last hop of each job), one for
the hops of those jobs, one for who approved them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, Min, OuterRef, QuerySet, Subquery

from apps.catalog.models import Release
from apps.clouds.models import Cloud, ReleaseChange


@dataclass(frozen=True)
class Hop:
    """One release the cloud reached within a change, and when."""

    from_release: Release | None
    to_release: Release
    at: datetime.datetime


@dataclass(frozen=True)
class HistoryRow:
    """One completed release change of a cloud: what one job (or one job-less entry) moved it through.

    ``started`` is when the job's first step started (a resumed job keeps its first start), else
    when its last attempt started; ``finished`` is empty while the job still runs or waits at a gate
    after a hop it completed. ``approved_by`` holds usernames of the people who approved the job.
    """

    id: int  # the newest hop's entry: the row's place in the history, and the API's cursor
    job_id: int | None
    kind: str
    state: str
    hops: list[Hop]
    started: datetime.datetime | None
    finished: datetime.datetime | None
    requested_by: str | None
    approved_by: list[str] = field(default_factory=list)

    @property
    def from_release(self) -> Release | None:
        return self.hops[0].from_release

    @property
    def to_release(self) -> Release:
        return self.hops[-1].to_release

    @property
    def direction(self) -> str:
        """``first`` (a deploy that set the first release), ``up`` (an upgrade) or ``down`` (a rollback)."""
        if self.from_release is None:
            return "first"
        return "down" if self.to_release.position < self.from_release.position else "up"

    @property
    def path(self) -> list[str]:
        """Every series the cloud ran during the change, in order: ``['2023.1', '2024.1', '2025.1']``."""
        series = [self.from_release.series] if self.from_release else []
        return series + [hop.to_release.series for hop in self.hops]

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.started is None or self.finished is None:
            return None
        return max(self.finished - self.started, datetime.timedelta(0))

    @property
    def duration_label(self) -> str:
        return human_duration(self.duration)


def human_duration(delta: datetime.timedelta | None) -> str:
    """``2 h 05 min``, ``3 min 20 s``, ``4 d 3 h``; an em dash when unknown."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def approvers_of(job_ids: Iterable[int]) -> dict[int, list[str]]:
    """Who approved each of ``job_ids`` (approvals that held when it started), by job id: one query."""
    from apps.approvals.models import Approval  # approvals depend on clouds, not the other way round

    approvers: dict[int, list[str]] = {}
    rows = (
        Approval.objects.filter(job_id__in=list(job_ids), lapsed_at__isnull=True)
        .order_by("created_at")
        .values_list("job_id", "approver__username")
    )
    for job_id, username in rows:
        approvers.setdefault(job_id, []).append(username)
    return approvers


def change_heads(cloud: Cloud) -> QuerySet[ReleaseChange]:
    """One entry per change of ``cloud``, newest first: the last hop of each job, and each job-less entry.

    The entries carry their job, its requester and the first start of its steps, so that
    :func:`history_rows` turns any slice of them into rows with two more queries.
    """
    from apps.jobs.models import Step  # jobs depend on clouds, not the other way round

    later_hop = ReleaseChange.objects.filter(job=OuterRef("job"), id__gt=OuterRef("id"))
    first_step = (
        Step.objects.filter(job=OuterRef("job"), started_at__isnull=False)
        .values("job")
        .annotate(first=Min("started_at"))
        .values("first")
    )
    return (
        ReleaseChange.objects.filter(cloud=cloud)
        # A job-less entry has job NULL, which matches no later hop: it stays a row of its own.
        .exclude(Exists(later_hop))
        .select_related("job__requested_by", "from_release", "to_release")
        .annotate(first_step_started=Subquery(first_step[:1]))
        .order_by("-id")
    )


def history_rows(heads: Iterable[ReleaseChange]) -> list[HistoryRow]:
    """The rows of ``heads`` (entries from :func:`change_heads`), in their order.

    One query for the hops, one for the approvers.
    """
    heads = list(heads)
    job_ids = [head.job_id for head in heads if head.job_id is not None]
    hops_of: dict[int, list[Hop]] = {}
    if job_ids:
        for change in (
            ReleaseChange.objects.filter(job_id__in=job_ids)
            .select_related("from_release", "to_release")
            .order_by("id")
        ):
            hops_of.setdefault(change.job_id, []).append(_hop(change))
    approvers = approvers_of(job_ids)
    rows = []
    for head in heads:
        job = head.job
        rows.append(
            HistoryRow(
                id=head.pk,
                job_id=head.job_id,
                kind=job.kind if job else "",
                state=job.state if job else "",
                hops=hops_of.get(head.job_id) or [_hop(head)],
                started=(head.first_step_started or job.started_at) if job else None,
                finished=job.finished_at if job else head.at,
                requested_by=job.requested_by.get_username() if job and job.requested_by else None,
                approved_by=approvers.get(head.job_id, []),
            )
        )
    return rows


def release_changes(cloud: Cloud, limit: int | None = None) -> list[HistoryRow]:
    """Every completed release change of ``cloud`` (the ``limit`` newest), newest first, in three queries."""
    heads = change_heads(cloud)
    return history_rows(heads if limit is None else heads[:limit])


def _hop(change: ReleaseChange) -> Hop:
    return Hop(from_release=change.from_release, to_release=change.to_release, at=change.at)
