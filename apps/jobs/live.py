"""Publishing a job's live updates to its channel group (events, steps, state, host totals)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection

from apps.jobs.models import Event, Job

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 5.0


def group_for(job_id: int) -> str:
    """The channel group live output of job ``job_id`` goes to."""
    return f"job.{job_id}"


class _Publisher:
    """Sends every publish of this process, in order, from one event loop in a daemon thread.

    Callers hand a message over and go on: the sink thread, which publishes after each commit, does
    not wait for Redis. One loop also means one connection pool (channels-redis keeps its
    connections per loop; ``async_to_sync`` from a worker thread would make a new loop, and so a
    new connection, on every call). At most ``limit`` messages wait; past that, ``submit`` blocks
    for room, so a stalled channel layer slows publishing down instead of filling memory.
    """

    def __init__(self, limit: int = 512) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._room = threading.BoundedSemaphore(limit)
        self._unsent = 0
        self._sent = threading.Condition(self._lock)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                queue: asyncio.Queue = asyncio.Queue()
                threading.Thread(target=self._serve, args=(loop,), name="ferry-publish", daemon=True).start()
                asyncio.run_coroutine_threadsafe(self._send_in_order(queue), loop)
                self._loop, self._queue = loop, queue
            return self._loop, self._queue

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        loop.run_forever()
        loop.close()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (up to ``timeout``), then stop the loop; a later publish starts anew."""
        if self._loop is None:
            return
        self.flush(timeout)
        with self._lock:
            loop, self._loop = self._loop, None

        async def stop() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            loop.stop()

        with contextlib.suppress(TimeoutError, RuntimeError):  # RuntimeError: the loop is gone already
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout)

    def submit(self, layer: Any, group: str, envelope: dict, timeout: float) -> None:
        """Queue ``envelope`` for ``group``; raises TimeoutError if no room frees up in ``timeout``."""
        if not self._room.acquire(timeout=timeout):
            raise TimeoutError(f"channel layer has not taken a message for {timeout:.0f}s")
        loop, queue = self._start()
        with self._lock:
            self._unsent += 1
        loop.call_soon_threadsafe(queue.put_nowait, (layer, group, envelope))

    async def _send_in_order(self, queue: asyncio.Queue) -> None:
        while True:
            layer, group, envelope = await queue.get()
            try:
                await asyncio.wait_for(layer.group_send(group, envelope), PUBLISH_TIMEOUT)
            except Exception:  # a channel layer outage must never fail the job itself
                kind = envelope["message"].get("kind")
                log.warning("could not publish %s update to %s", kind, group, exc_info=True)
            finally:
                self._room.release()
                with self._lock:
                    self._unsent -= 1
                    if not self._unsent:
                        self._sent.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far was sent (or failed); False on timeout."""
        with self._lock:
            return self._sent.wait_for(lambda: not self._unsent, timeout)


_publisher = _Publisher()
# A forked child (a prefork worker) has the loop object but not its thread: start afresh there.
os.register_at_fork(after_in_child=_publisher.__init__)
atexit.register(_publisher.close)


def publish(job_id: int, message: dict) -> None:
    """Send ``message`` (with a ``kind`` key) to everyone watching the job.

    Publishing is best effort and asynchronous: the database is the record, and a
    client that missed a message catches up from it (see ``consumers.JobConsumer``).
    Messages of one process reach the channel layer in the order they were published.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    group, envelope = group_for(job_id), {"type": "job.update", "message": message}
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Its queues belong to the loop the consumers run on (the embedded server's), which
            # async_to_sync reaches from a thread sync_to_async started; there is no connection to keep.
            async_to_sync(layer.group_send)(group, envelope)
        else:
            _publisher.submit(layer, group, envelope, PUBLISH_TIMEOUT)
    except Exception:  # a channel layer outage must never fail the job itself
        log.warning("could not publish %s update of job %s", message.get("kind"), job_id, exc_info=True)


def publish_job_state(job: Job) -> None:
    """Tell everyone watching that ``job`` changed state, with the state of every step it has.

    A job that ends settles steps it never ran (skipped, canceled) in one UPDATE; the steps ride
    along so a page that is open shows their final state without a reload.
    """
    steps = job.steps.order_by("attempt", "position").values("id", "position", "attempt", "state", "rc")
    publish(job.pk, {"kind": "job", "state": job.state, "result": job.result, "steps": list(steps)})


def flush(timeout: float = PUBLISH_TIMEOUT) -> bool:
    """Wait until this process's publishes so far have reached the channel layer (or failed)."""
    return _publisher.flush(timeout)


# The compact form of a stored event that clients draw: payload key -> attribute of the event.
PAYLOAD = {
    "seq": "seq",
    "step": "step_id",
    "counter": "counter",
    "event": "event",
    "host": "host",
    "task": "task",
    "stdout": "stdout",
    "created": "created",
}
END = 2**62  # beyond every seq


def event_payload(row: Any) -> dict:
    """The compact form of a stored event that clients draw (details come from the API)."""
    return _with_iso_created({key: getattr(row, attribute) for key, attribute in PAYLOAD.items()})


def _with_iso_created(payload: dict) -> dict:
    payload["created"] = payload["created"].isoformat() if payload["created"] else None
    return payload


def stored_payloads(job_id: int, after: int, before: int | None, limit: int) -> list[dict]:
    """``event_payload`` of up to ``limit`` stored events of the job with ``after < seq < before``."""
    rows = Event.objects.filter(job_id=job_id, seq__gt=after, seq__lt=END if before is None else before)
    return [
        _with_iso_created(dict(zip(PAYLOAD, values, strict=True)))
        for values in rows.order_by("seq").values_list(*PAYLOAD.values())[:limit]
    ]


def stored_payloads_json(job_id: int, after: int, before: int | None, limit: int) -> list[tuple[int, str]]:
    """(seq, JSON of ``event_payload``) of the same events, the JSON made by the database when it can.

    Replaying a 200,000-event job is mostly this: on PostgreSQL, ``json_build_object`` writes
    each payload in C, where Python would build a row, a dict and then the JSON.
    """
    if connection.vendor != "postgresql":
        return [(p["seq"], json.dumps(p)) for p in stored_payloads(job_id, after, before, limit)]
    keys = ", ".join(f"'{key}', {column}" for key, column in PAYLOAD.items())
    sql = (
        f"SELECT seq, json_build_object({keys})::text FROM {Event._meta.db_table} "
        "WHERE job_id = %s AND seq > %s AND seq < %s ORDER BY seq LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_id, after, END if before is None else before, limit])
        return cursor.fetchall()
