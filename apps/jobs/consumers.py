"""Live job output over WebSocket: replay from the database, then live, with no gap or duplicate.

The consumer joins the job's group *before* it replays, so anything published
while it replays waits in its channel. It remembers the last position it
sent; live batches are trimmed to what is newer, and whenever a live batch
does not follow on from that position (a message the channel layer dropped, or
a new step) the missing stretch is read back from the database first.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.jobs.live import event_payload, group_for
from apps.jobs.models import Event, HostSummary, Job
from apps.jobs.permissions import may_view_job

REPLAY_CHUNK = 2500
# daphne refuses to send a WebSocket message over 1 MiB (and closes the socket with 1011); frames
# stay well under it. Output is ASCII once JSON-encoded, so characters are bytes.
MAX_FRAME = 900_000
MAX_STDOUT = 200_000


def event_frames(events: list[dict]) -> list[str]:
    """``events`` as one or more JSON ``events`` messages, each at most ``MAX_FRAME`` long.

    An event whose output alone is too large is sent with its stdout cut short and a note saying
    so; the stored event, the API and the log download keep all of it.
    """
    text = json.dumps({"kind": "events", "events": events})
    if len(text) <= MAX_FRAME:
        return [text]
    if len(events) == 1:
        (event,) = events
        stdout, keep = event.get("stdout") or "", MAX_STDOUT
        while True:  # escapes (\u00e9...) can make each character up to six
            note = f"\n… {len(stdout) - keep:,} more characters of output: see the full log download"
            text = json.dumps({"kind": "events", "events": [{**event, "stdout": stdout[:keep] + note}]})
            if len(text) <= MAX_FRAME:
                return [text]
            keep //= 2
    middle = len(events) // 2
    return event_frames(events[:middle]) + event_frames(events[middle:])


@database_sync_to_async
def _allowed(user, job_id: int) -> bool:
    return user.is_authenticated and may_view_job(user, job_id)


@database_sync_to_async
def _events_between(job_id: int, after: int, before: int | None, limit: int) -> list[dict]:
    rows = Event.objects.filter(job_id=job_id, seq__gt=after)
    if before is not None:
        rows = rows.filter(seq__lt=before)
    fields = ("seq", "step_id", "counter", "event", "host", "task", "stdout", "created")
    return [event_payload(_Row(*values)) for values in rows.order_by("seq").values_list(*fields)[:limit]]


class _Row:
    __slots__ = ("counter", "created", "event", "host", "seq", "stdout", "step_id", "task")

    def __init__(self, seq, step_id, counter, event, host, task, stdout, created):
        self.seq, self.step_id, self.counter, self.event = seq, step_id, counter, event
        self.host, self.task, self.stdout, self.created = host, task, stdout, created


@database_sync_to_async
def _snapshot(job_id: int) -> dict:
    job = Job.objects.get(pk=job_id)
    steps = list(
        job.steps.order_by("attempt", "position").values("id", "position", "attempt", "name", "state", "rc")
    )
    hosts = list(
        HostSummary.objects.filter(job_id=job_id).values(
            "host", "ok", "changed", "failed", "unreachable", "skipped"
        )
    )
    return {
        "kind": "snapshot",
        "state": job.state,
        "current_step": job.current_step,
        "current_task": job.current_task,
        "attempt": job.attempt,
        "event_count": job.event_count,
        "result": job.result,
        "steps": steps,
        "hosts": hosts,
    }


class JobConsumer(AsyncJsonWebsocketConsumer):
    """``ws/jobs/<id>/?after=<seq>``: a job's events after ``seq``, then everything new as it happens."""

    async def connect(self) -> None:
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        self.last_seq = self._after()
        await self.accept()
        if not await _allowed(self.scope["user"], self.job_id):
            reason = (
                "not logged in" if not self.scope["user"].is_authenticated else "you may not view this job"
            )
            await self.send_json({"kind": "error", "reason": reason})
            await self.close(code=4403, reason=reason)
            return
        self.group = group_for(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(await _snapshot(self.job_id))
        await self._send_from_database(before=None)
        await self.send_json({"kind": "live", "after": self.last_seq})

    def _after(self) -> int:
        query = self.scope.get("query_string", b"").decode()
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "after" and value.isdigit():
                return int(value)
        return 0

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send_from_database(self, before: int | None) -> None:
        while True:
            events = await _events_between(self.job_id, self.last_seq, before, REPLAY_CHUNK)
            if not events:
                return
            await self._send_events(events)
            if len(events) < REPLAY_CHUNK:
                return

    async def _send_events(self, events: list[dict]) -> None:
        for frame in event_frames(events):
            await self.send(text_data=frame)
        self.last_seq = events[-1]["seq"]

    async def job_update(self, message: dict) -> None:
        payload = message["message"]
        if payload["kind"] != "events":
            if payload["kind"] in ("step", "job"):
                # A step or the job changed state: whatever it logged before is in the database by
                # now, so send what this client lacks first (a message the layer dropped, or one
                # still on its way) and the state change after it.
                await self._send_from_database(before=None)
            await self.send_json(payload)
            return
        events = [e for e in payload["events"] if e["seq"] > self.last_seq]
        if not events:
            return
        if events[0]["seq"] != self.last_seq + 1:
            await self._send_from_database(before=events[0]["seq"])
            events = [e for e in events if e["seq"] > self.last_seq]
        if events:
            await self._send_events(events)
