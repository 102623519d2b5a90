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

from apps.jobs.live import group_for, stored_payloads_json
from apps.jobs.models import HostSummary, Job
from apps.jobs.permissions import may_view_job, parse_number

REPLAY_CHUNK = 2500
# daphne refuses to send a WebSocket message over 1 MiB (and closes the socket with 1011); frames
# stay well under it.
MAX_FRAME = 900_000  # bytes of UTF-8
MAX_STDOUT = 200_000


def event_frames(events: list[dict]) -> list[str]:
    """``events`` as one or more JSON ``events`` messages, each at most ``MAX_FRAME`` bytes."""
    return json_frames([json.dumps(e) for e in events])


def json_frames(encoded: list[str]) -> list[str]:
    """``events`` messages made of already JSON-encoded events, each at most ``MAX_FRAME`` bytes.

    An event whose output alone is too large is sent with its stdout cut short and a note saying
    so; the stored event, the API and the log download keep all of it.
    """
    head, tail = '{"kind": "events", "events": [', "]}"
    frames: list[str] = []
    batch: list[str] = []
    size = len(head) + len(tail)
    for text in encoded:
        length = len(text.encode()) + 1
        if length + len(head) + len(tail) > MAX_FRAME:
            text = _cut_short(json.loads(text))
            length = len(text.encode()) + 1
        if batch and size + length > MAX_FRAME:
            frames.append(head + ",".join(batch) + tail)
            batch, size = [], len(head) + len(tail)
        batch.append(text)
        size += length
    if batch:
        frames.append(head + ",".join(batch) + tail)
    return frames


def _cut_short(event: dict) -> str:
    stdout, keep = event.get("stdout") or "", MAX_STDOUT
    while True:  # escapes (\u00e9...) can make one character up to six bytes
        note = f"\n… {len(stdout) - keep:,} more characters of output: see the full log download"
        text = json.dumps({**event, "stdout": stdout[:keep] + note})
        if len(text) + 64 <= MAX_FRAME:
            return text
        keep //= 2


@database_sync_to_async
def _allowed(user, job_id: int) -> bool:
    return user.is_authenticated and may_view_job(user, job_id)


@database_sync_to_async
def _stored_frames(job_id: int, after: int, before: int | None) -> tuple[list[str], int, int]:
    """Up to ``REPLAY_CHUNK`` stored events after ``after`` as frames; (frames, last seq, count)."""
    rows = stored_payloads_json(job_id, after, before, REPLAY_CHUNK)
    if not rows:
        return [], after, 0
    return json_frames([text for _, text in rows]), rows[-1][0], len(rows)


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
        raw_id = self.scope["url_route"]["kwargs"]["job_id"]
        job_id, after = parse_number(raw_id), self._after()
        await self.accept()
        if job_id is None:
            await self._refuse(4404, f"no job {raw_id[:40]!r}: a job id is a positive whole number")
            return
        if after is None:
            await self._refuse(4400, "after must be a whole number of at most 19 digits")
            return
        self.job_id, self.last_seq = job_id, after
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

    async def _refuse(self, code: int, reason: str) -> None:
        await self.send_json({"kind": "error", "reason": reason})
        await self.close(code=code, reason=reason)

    def _after(self) -> int | None:
        """The ``after`` of the query string (0 when absent), or None when it is not a position."""
        query = self.scope.get("query_string", b"").decode("latin-1")
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "after" and value:
                return parse_number(value)
        return 0

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """Clients send nothing on this socket: whatever arrives is ignored, and streaming goes on."""

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _send_from_database(self, before: int | None) -> None:
        while True:
            frames, last_seq, count = await _stored_frames(self.job_id, self.last_seq, before)
            for frame in frames:
                await self.send(text_data=frame)
            self.last_seq = last_seq
            if count < REPLAY_CHUNK:
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
        if events and events[0]["seq"] != self.last_seq + 1:
            await self._send_from_database(before=events[0]["seq"])
            events = [e for e in events if e["seq"] > self.last_seq]
        if events:
            await self._send_events(events)
        if payload.get("hosts"):
            # Totals, not increments: forwarding them again after a replay is harmless.
            await self.send_json({"kind": "hosts", "hosts": payload["hosts"]})
