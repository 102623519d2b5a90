"""The database end of the event pipeline: store batches idempotently, keep totals, publish.

The runner hands batches of redacted ansible-runner events to a
:class:`JobEventSink`. A batch is stored in one transaction; events already
stored (a re-delivery after a database hiccup) are skipped, so delivery is
at-least-once and storage exactly-once. Only events new to the database count
toward host totals and are published, after commit.

This is the hot path of every job (a few hundred events a second from Ansible,
far more in a burst), so rows never become model instances and every batch costs
as few round trips as it can: on PostgreSQL the rows are streamed with ``COPY``,
then one statement updates the step's and the job's counts and the host totals;
one message per batch carries the new events and host totals to live clients.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection, transaction
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
OUTCOMES = ("ok", "changed", "failed", "unreachable", "skipped")
# Host totals as rows (job_id, host, outcomes...) from one array per column.
UNNEST_HOSTS = "SELECT %s, * FROM unnest(%s::text[], " + ", ".join(["%s::int[]"] * len(OUTCOMES)) + ")"


class EventRow(NamedTuple):
    """One event as stored: the columns of ``jobs_event`` in ``COLUMNS`` order."""

    job_id: int
    step_id: int
    counter: int
    seq: int
    uuid: str
    event: str
    host: str
    task: str
    play: str
    stdout: str
    start_line: int
    end_line: int
    created: datetime | None
    event_data: dict[str, Any]


COLUMNS = EventRow._fields


def _created(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    # ansible-runner writes UTC without an offset.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any, size: int | None = None) -> str:
    # PostgreSQL text cannot hold NUL; a task printing one must not wedge the pipeline.
    text = str(value or "")
    if size is not None:
        text = text[:size]
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _json(data: dict[str, Any]) -> str:
    # orjson takes a fifth of json.dumps' time per event here (bench/event_encoding.py).
    text = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    # jsonb rejects the \u0000 escape.
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


class JobEventSink:
    """Callable the runner gives each batch of events of one step."""

    def __init__(self, job: Job, step: Step):
        self.job_id = job.pk
        self.step_id = step.pk
        self.base = step.ordinal * Event.SEQ_STEP
        self._check_stored = True

    def rows(self, batch: list[dict[str, Any]]) -> list[EventRow]:
        """The rows a batch of runner events is stored as."""
        rows = []
        for raw in batch:
            data = raw.get("event_data") or {}
            rows.append(
                EventRow(
                    self.job_id,
                    self.step_id,
                    raw["counter"],
                    self.base + raw["counter"],
                    _text(raw.get("uuid"), 36),
                    _text(raw.get("event"), 64),
                    _text(data.get("host") or data.get("remote_addr"), 255),
                    _text(data.get("task"), 500),
                    _text(data.get("play"), 500),
                    _text(raw.get("stdout")),
                    raw.get("start_line") or 0,
                    raw.get("end_line") or 0,
                    _created(raw.get("created")),
                    data,
                )
            )
        return rows

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        rows = self.rows(batch)
        # Only a batch offered again (the last call raised, perhaps after its commit) or the first
        # batch of this sink can hold stored events. Any other duplicate would still be refused by
        # the unique index, and the batch then comes back here, checked.
        check, self._check_stored = self._check_stored, True
        with transaction.atomic():
            new = self._not_stored(rows) if check else rows
            if not new:
                self._check_stored = False
                return
            insert_events(new)
            host_rows = update_totals(self.job_id, self.step_id, new)
        transaction.on_commit(lambda: self._publish(new, host_rows))
        self._check_stored = False

    def _not_stored(self, rows: list[EventRow]) -> list[EventRow]:
        stored = set(
            Event.objects.filter(
                job_id=self.job_id, seq__gte=min(r.seq for r in rows), seq__lte=max(r.seq for r in rows)
            ).values_list("seq", flat=True)
        )
        return [r for r in rows if r.seq not in stored] if stored else rows

    def _publish(self, new: list[EventRow], host_rows: list[dict[str, Any]]) -> None:
        message: dict[str, Any] = {"kind": "events", "events": [event_payload(r) for r in new]}
        if host_rows:
            message["hosts"] = host_rows
        publish(self.job_id, message)


def host_totals(rows: list[EventRow]) -> dict[str, Counter]:
    """Per-host outcome counts the task events among ``rows`` add."""
    totals: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        outcome = TASK_EVENTS.get(row.event)
        if outcome and row.host:
            totals[row.host][outcome] += 1
            if outcome == "ok" and (row.event_data.get("res") or {}).get("changed"):
                totals[row.host]["changed"] += 1
    return totals


def insert_events(rows: list[EventRow]) -> None:
    """Insert rows not stored yet (the caller holds the transaction); a duplicate raises IntegrityError."""
    table = Event._meta.db_table
    if connection.vendor == "postgresql":
        # The raw psycopg cursor, with Django's error classes (IntegrityError...) around it.
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((*row[:-1], _json(row.event_data)))
        return
    # Through the same encoding as COPY, so every database stores the same data.
    Event.objects.bulk_create(
        [Event(**row._asdict() | {"event_data": orjson.loads(_json(row.event_data))}) for row in rows]
    )


def update_totals(job_id: int, step_id: int, new: list[EventRow]) -> list[dict[str, Any]]:
    """Count newly stored rows into their step, job and host totals; returns the hosts' new totals.

    The step keeps the highest counter it stored, the job how many events it stored and its latest
    task. On PostgreSQL all of it is one statement (the caller holds the transaction).
    """
    top = max(r.counter for r in new)
    last_task = next((r.task for r in reversed(new) if r.task), None)
    totals = host_totals(new)
    if connection.vendor != "postgresql":
        Step.objects.filter(pk=step_id).update(event_count=Greatest(F("event_count"), top))
        job_update: dict[str, Any] = {"event_count": F("event_count") + len(new)}
        if last_task:
            job_update["current_task"] = last_task
        Job.objects.filter(pk=job_id).update(**job_update)
        return upsert_host_totals(job_id, totals)
    hosts = sorted(totals)
    step_table, job_table = Step._meta.db_table, Job._meta.db_table
    # The same statement text for every batch (host totals as one array per column, empty when the
    # batch has no task results), so PostgreSQL parses and plans it once per connection.
    sql = (
        f"WITH step AS (UPDATE {step_table} SET event_count = GREATEST(event_count, %s) WHERE id = %s), "
        f"job AS (UPDATE {job_table} SET event_count = event_count + %s, "
        "current_task = COALESCE(%s, current_task) WHERE id = %s) " + _host_upsert_sql(UNNEST_HOSTS)
    )
    params = [top, step_id, len(new), last_task, job_id, job_id, hosts]
    params += [[totals[h][key] for h in hosts] for key in OUTCOMES]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _host_rows(cursor.fetchall())


def upsert_host_totals(job_id: int, totals: dict[str, Counter]) -> list[dict[str, Any]]:
    """Add ``totals`` to the job's host summaries in one statement; returns the updated rows."""
    if not totals:
        return []
    hosts = sorted(totals)
    if connection.vendor == "postgresql":
        source = UNNEST_HOSTS
        params: list[Any] = [job_id, hosts, *([totals[h][key] for h in hosts] for key in OUTCOMES)]
    else:
        source = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(hosts))
        params = [value for h in hosts for value in (job_id, h, *(totals[h][key] for key in OUTCOMES))]
    with connection.cursor() as cursor:
        cursor.execute(_host_upsert_sql(source), params)
        return _host_rows(cursor.fetchall())


def _host_upsert_sql(source: str) -> str:
    table = HostSummary._meta.db_table
    increments = ", ".join(f"{key} = {table}.{key} + excluded.{key}" for key in OUTCOMES)
    return (
        f"INSERT INTO {table} (job_id, host, {', '.join(OUTCOMES)}) {source} "
        f"ON CONFLICT (job_id, host) DO UPDATE SET {increments} "
        f"RETURNING host, {', '.join(OUTCOMES)}"
    )


def _host_rows(rows: list[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(("host", *OUTCOMES), values, strict=True)) for values in rows]
