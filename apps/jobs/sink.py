"""The database end of the event pipeline: store batches idempotently, keep totals, publish.

The runner hands batches of redacted ansible-runner events to a
:class:`JobEventSink`. A batch is inserted in one transaction; events already
stored (a re-delivery after a database hiccup) are skipped, so delivery is
at-least-once and storage exactly-once. Only events new to the database count
toward host totals and are published, after commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from apps.jobs.live import event_payload, publish
from apps.jobs.models import Event, HostSummary, Job, Step

TASK_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _created(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    # ansible-runner writes UTC without an offset.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _clip(value, size: int) -> str:
    return str(value or "")[:size]


class JobEventSink:
    """Callable the runner gives each batch of events of one step."""

    def __init__(self, job: Job, step: Step):
        self.job_id = job.pk
        self.step = step
        self.base = step.ordinal * Event.SEQ_STEP

    def rows(self, batch: list[dict]) -> list[Event]:
        rows = []
        for raw in batch:
            data = raw.get("event_data") or {}
            rows.append(
                Event(
                    job_id=self.job_id,
                    step_id=self.step.pk,
                    counter=raw["counter"],
                    seq=self.base + raw["counter"],
                    uuid=_clip(raw.get("uuid"), 36),
                    event=_clip(raw.get("event"), 64),
                    host=_clip(data.get("host") or data.get("remote_addr"), 255),
                    task=_clip(data.get("task"), 500),
                    play=_clip(data.get("play"), 500),
                    stdout=raw.get("stdout") or "",
                    start_line=raw.get("start_line") or 0,
                    end_line=raw.get("end_line") or 0,
                    created=_created(raw.get("created")),
                    event_data=data,
                )
            )
        return rows

    def __call__(self, batch: list[dict]) -> None:
        if not batch:
            return
        rows = self.rows(batch)
        counters = [r.counter for r in rows]
        with transaction.atomic():
            stored = set(
                Event.objects.filter(
                    job_id=self.job_id,
                    step_id=self.step.pk,
                    counter__gte=min(counters),
                    counter__lte=max(counters),
                ).values_list("counter", flat=True)
            )
            new = [r for r in rows if r.counter not in stored]
            if not new:
                return
            Event.objects.bulk_create(new, ignore_conflicts=True)
            self._update_totals(new)
        transaction.on_commit(lambda: self._publish(new))

    def _update_totals(self, new: list[Event]) -> None:
        top = max(r.counter for r in new)
        Step.objects.filter(pk=self.step.pk).update(event_count=Greatest(F("event_count"), top))
        last_task = next((r.task for r in reversed(new) if r.task), None)
        job_update = {"event_count": F("event_count") + len(new)}
        if last_task:
            job_update["current_task"] = last_task[:500]
        Job.objects.filter(pk=self.job_id).update(**job_update)

        totals: dict[str, Counter] = defaultdict(Counter)
        for row in new:
            outcome = TASK_EVENTS.get(row.event)
            if outcome and row.host:
                totals[row.host][outcome] += 1
                if outcome == "ok" and (row.event_data.get("res") or {}).get("changed"):
                    totals[row.host]["changed"] += 1
        if not totals:
            return
        HostSummary.objects.bulk_create(
            [HostSummary(job_id=self.job_id, host=host) for host in totals], ignore_conflicts=True
        )
        for host, counts in totals.items():
            HostSummary.objects.filter(job_id=self.job_id, host=host).update(
                **{key: F(key) + value for key, value in counts.items()}
            )
        self._host_totals = totals

    def _publish(self, new: list[Event]) -> None:
        publish(self.job_id, {"kind": "events", "events": [event_payload(r) for r in new]})
        totals = getattr(self, "_host_totals", None)
        if totals:
            rows = HostSummary.objects.filter(job_id=self.job_id, host__in=list(totals)).values(
                "host", "ok", "changed", "failed", "unreachable", "skipped"
            )
            publish(self.job_id, {"kind": "hosts", "hosts": list(rows)})
            self._host_totals = None
