"""Batched, ordered, at-least-once delivery of Ansible events to a sink.

The Ansible side appends events as fast as ansible-runner parses them; a background thread hands
them to the sink in batches, every ``max_delay`` seconds or as soon as ``max_batch`` are waiting.
A batch the sink rejects (raises) is retried, with backoff, before anything newer is sent, so the
sink sees events in the order they were added, each batch until it accepts it: nothing is dropped,
and a batch the sink accepted is never sent again.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Sink = Callable[[list[dict[str, Any]]], None]

# A batch goes out every MAX_DELAY seconds, or sooner once MAX_BATCH events wait. Each batch costs a
# transaction and a publish, so the delay trades the job's CPU against live latency; MAX_BATCH lets a
# burst or a slow sink commit more per batch (docs/benchmarks.md, "Job overhead", "Live output latency").
MAX_BATCH = 2000
MAX_DELAY = 0.1


class EventDeliveryError(RuntimeError):
    """The sink kept failing past the final delivery deadline; ``undelivered`` holds what is left.

    ``run_step`` also sets ``result`` (its ``StepResult``) before raising it.
    """

    def __init__(self, message: str, undelivered: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.undelivered = undelivered
        self.result: Any = None


class EventBatcher:
    """Collects events and delivers them to ``sink`` from a background thread.

    ``add`` may be called from any thread; the sink is only ever called from the batcher's own
    thread, one batch at a time. ``on_thread_exit`` runs on that thread when it ends (e.g. to close
    a database connection the sink opened there).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        max_batch: int = MAX_BATCH,
        max_delay: float = MAX_DELAY,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        on_thread_exit: Callable[[], None] | None = None,
        name: str = "event-batcher",
    ) -> None:
        self._sink = sink
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._on_thread_exit = on_thread_exit
        self._cond = threading.Condition()
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._oldest_at = 0.0
        self._inflight: list[dict[str, Any]] = []
        self._closing = False
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.delivered = 0
        self.batches = 0
        self.failures = 0
        self.last_error: BaseException | None = None

    def start(self) -> EventBatcher:
        """Start the delivery thread."""
        self._thread.start()
        return self

    def add(self, event: dict[str, Any]) -> None:
        """Queue one event for delivery."""
        with self._cond:
            self._pending.append(event)
            if len(self._pending) == 1:
                # Start the delay clock of a new batch (the thread may be waiting for any event).
                self._oldest_at = time.monotonic()
                self._cond.notify()
            elif len(self._pending) >= self._max_batch:
                self._cond.notify()

    def close(self, timeout: float) -> None:
        """Deliver everything still queued, then stop the thread.

        Waits up to ``timeout`` seconds; if the sink still fails by then, stops retrying and raises
        ``EventDeliveryError`` with what is left.
        """
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abandon.set()
            with self._cond:
                self._cond.notify()
            self._thread.join(30)
        with self._cond:
            left = list(self._inflight) + list(self._pending)
        if left:
            raise EventDeliveryError(
                f"{len(left)} events could not be delivered within {timeout:.0f}s: {self.last_error!r}", left
            )

    def _next_batch(self) -> list[dict[str, Any]] | None:
        with self._cond:
            while True:
                if self._pending:
                    due = self._oldest_at + self._max_delay
                    now = time.monotonic()
                    if self._closing or len(self._pending) >= self._max_batch or now >= due:
                        break
                    self._cond.wait(due - now)
                elif self._closing:
                    return None
                else:
                    self._cond.wait()
            count = min(len(self._pending), self._max_batch)
            batch = [self._pending.popleft() for _ in range(count)]
            if self._pending:
                self._oldest_at = time.monotonic()
            self._inflight = batch
            return batch

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        delay = self._retry_initial
        while True:
            try:
                self._sink(batch)
            except Exception as exc:
                self.failures += 1
                self.last_error = exc
                log.warning("event sink failed on %d events (retrying in %.1fs): %r", len(batch), delay, exc)
                if self._abandon.wait(delay):
                    return False
                delay = min(delay * 2, self._retry_max)
                continue
            with self._cond:
                self._inflight = []
            self.delivered += len(batch)
            self.batches += 1
            return True

    def _run(self) -> None:
        try:
            while not self._abandon.is_set():
                batch = self._next_batch()
                if batch is None or not self._deliver(batch):
                    return
        finally:
            if self._on_thread_exit is not None:
                try:
                    self._on_thread_exit()
                except Exception:
                    log.exception("event batcher thread exit hook failed")
