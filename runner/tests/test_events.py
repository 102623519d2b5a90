"""The event batcher: batching, ordering, retries and the final flush."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.events import EventBatcher, EventDeliveryError


def events(n: int, start: int = 1) -> list[dict]:
    return [{"counter": i, "uuid": f"u{i}", "event": "verbose"} for i in range(start, start + n)]


class Sink:
    """Records every call; fails the calls whose number (from 1) is in ``fail_calls``."""

    def __init__(self, fail_calls: set[int] | None = None, fail_all: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.accepted: list[list[int]] = []
        self.fail_calls = fail_calls or set()
        self.fail_all = fail_all
        self.threads: set[str] = set()

    def __call__(self, batch: list[dict]) -> None:
        self.calls.append([e["counter"] for e in batch])
        self.threads.add(threading.current_thread().name)
        if self.fail_all or len(self.calls) in self.fail_calls:
            raise ConnectionError("database unavailable")
        self.accepted.append([e["counter"] for e in batch])

    @property
    def delivered(self) -> list[int]:
        return [c for batch in self.accepted for c in batch]


def test_full_batches_go_out_without_waiting_and_in_order() -> None:
    sink = Sink()
    batcher = EventBatcher(sink, max_batch=500, max_delay=60).start()
    for event in events(1200):
        batcher.add(event)
    deadline = time.monotonic() + 5
    while len(sink.delivered) < 1000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.accepted[:2] == [list(range(1, 501)), list(range(501, 1001))]
    batcher.close(timeout=5)
    assert sink.delivered == list(range(1, 1201))
    assert all(len(b) <= 500 for b in sink.accepted)


def test_a_partial_batch_goes_out_after_the_delay() -> None:
    sink = Sink()
    batcher = EventBatcher(sink, max_delay=0.05).start()
    for event in events(3):
        batcher.add(event)
    time.sleep(0.5)
    assert sink.delivered == [1, 2, 3]
    batcher.close(timeout=5)
    assert sink.calls == [[1, 2, 3]]


def test_close_flushes_what_is_left_at_once() -> None:
    sink = Sink()
    batcher = EventBatcher(sink, max_delay=60).start()
    for event in events(7):
        batcher.add(event)
    started = time.monotonic()
    batcher.close(timeout=5)
    assert time.monotonic() - started < 1
    assert sink.delivered == list(range(1, 8))
    assert batcher.delivered == 7


def test_a_failing_sink_gets_the_same_batch_again_and_newer_events_queue_behind() -> None:
    sink = Sink(fail_calls={1, 2, 3})
    batcher = EventBatcher(sink, max_batch=4, max_delay=0.01, retry_initial=0.05).start()
    for event in events(3):
        batcher.add(event)
    time.sleep(0.1)
    for event in events(9, start=4):
        batcher.add(event)
    batcher.close(timeout=10)
    assert sink.calls[:4] == [[1, 2, 3]] * 4
    assert sink.delivered == list(range(1, 13))
    assert batcher.failures == 3


def test_a_batch_the_sink_accepted_is_never_sent_again() -> None:
    sink = Sink(fail_calls={2, 4})
    batcher = EventBatcher(sink, max_batch=5, max_delay=0.01, retry_initial=0.01).start()
    for event in events(20):
        batcher.add(event)
    batcher.close(timeout=10)
    assert sink.delivered == list(range(1, 21))
    assert len(sink.calls) == len(sink.accepted) + 2


def test_sink_runs_on_the_batcher_thread_and_the_exit_hook_too() -> None:
    sink = Sink()
    exits: list[str] = []
    batcher = EventBatcher(
        sink, name="ferry-events-test", on_thread_exit=lambda: exits.append(threading.current_thread().name)
    ).start()
    batcher.add(events(1)[0])
    batcher.close(timeout=5)
    assert sink.threads == {"ferry-events-test"}
    assert exits == ["ferry-events-test"]


def test_close_gives_up_after_the_deadline_and_returns_what_is_left() -> None:
    sink = Sink(fail_all=True)
    batcher = EventBatcher(sink, max_batch=2, retry_initial=0.05, retry_max=0.1).start()
    for event in events(5):
        batcher.add(event)
    started = time.monotonic()
    with pytest.raises(EventDeliveryError) as caught:
        batcher.close(timeout=1.0)
    assert time.monotonic() - started < 3
    assert [e["counter"] for e in caught.value.undelivered] == [1, 2, 3, 4, 5]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=300),
    failing=st.sets(st.integers(min_value=1, max_value=30), max_size=10),
    batch=st.integers(min_value=1, max_value=64),
)
def test_every_event_is_delivered_exactly_once_in_order(n: int, failing: set[int], batch: int) -> None:
    sink = Sink(fail_calls=failing)
    batcher = EventBatcher(
        sink, max_batch=batch, max_delay=0.001, retry_initial=0.001, retry_max=0.002
    ).start()
    for event in events(n):
        batcher.add(event)
    batcher.close(timeout=30)
    assert sink.delivered == list(range(1, n + 1))
