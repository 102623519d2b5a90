"""Publishing: in order, without making the caller wait, and never failing the job; frame sizes."""

from __future__ import annotations

import asyncio
import json
import random
import threading

import pytest

from apps.jobs import live
from apps.jobs.consumers import MAX_FRAME, event_frames
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events


class SlowLayer:
    """A channel layer whose sends take a random while, so out-of-order delivery would show."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.sent: list[int] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on

    async def group_send(self, group: str, envelope: dict) -> None:
        await asyncio.sleep(random.uniform(0, 0.003))
        number = envelope["message"]["n"]
        self.threads.add(threading.current_thread().name)
        if number == self.fail_on:
            raise ConnectionError("redis went away")
        self.sent.append(number)


def test_messages_reach_the_layer_in_publish_order_from_one_thread(monkeypatch):
    layer = SlowLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    for n in range(300):
        live.publish(7, {"kind": "events", "n": n})
    assert live.flush(10)
    assert layer.sent == list(range(300))
    assert layer.threads == {"ferry-publish"}


def test_publish_from_several_threads_keeps_each_threads_order(monkeypatch):
    layer = SlowLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)

    def burst(offset: int) -> None:
        for n in range(offset, offset + 100):
            live.publish(7, {"kind": "events", "n": n})

    threads = [threading.Thread(target=burst, args=(k * 1000,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert live.flush(10)
    for k in range(3):
        own = range(k * 1000, k * 1000 + 100)
        assert [n for n in layer.sent if n in own] == list(own)


def test_a_failing_send_is_logged_and_the_rest_still_go_out(monkeypatch, caplog):
    layer = SlowLayer(fail_on=3)
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    for n in range(6):
        live.publish(7, {"kind": "events", "n": n})
    assert live.flush(10)
    assert layer.sent == [0, 1, 2, 4, 5]
    assert "could not publish events update to job.7" in caplog.text


def test_a_stalled_layer_blocks_the_publisher_only_up_to_the_timeout(monkeypatch):
    gate = threading.Event()

    class Stalled:
        async def group_send(self, group: str, envelope: dict) -> None:
            while not gate.is_set():
                await asyncio.sleep(0.01)

    publisher = live._Publisher(limit=2)
    layer = Stalled()
    publisher.submit(layer, "g", {"message": {"kind": "x"}}, timeout=1)
    publisher.submit(layer, "g", {"message": {"kind": "x"}}, timeout=1)
    try:
        publisher.submit(layer, "g", {"message": {"kind": "x"}}, timeout=0.2)
    except TimeoutError:
        pass
    else:
        raise AssertionError("a third message found room while two were stuck")
    assert not publisher.flush(0.1)
    gate.set()
    assert publisher.flush(10)
    publisher.close()


def test_event_frames_stay_under_the_servers_message_limit():
    events = [{"seq": n, "stdout": "x" * 700, "task": "t"} for n in range(1, 4001)]
    frames = event_frames(events)
    assert len(frames) > 1 and all(len(f.encode()) <= MAX_FRAME for f in frames)
    assert [e["seq"] for f in frames for e in json.loads(f)["events"]] == list(range(1, 4001))


def test_an_event_too_large_for_one_message_is_cut_short_with_a_note():
    (frame,) = event_frames([{"seq": 1, "stdout": "é" * 3_000_000}])
    assert len(frame.encode()) <= MAX_FRAME
    stdout = json.loads(frame)["events"][0]["stdout"]
    assert stdout.startswith("é" * 1000)
    assert stdout.endswith("more characters of output: see the full log download")


@pytest.mark.django_db
def test_payloads_made_by_the_database_equal_the_live_ones(demo_cloud):
    job = make_job(demo_cloud)
    first, second = job.steps.order_by("position")[:2]
    events = runner_events(1, 30, stdout='ok: [ctl01] é \x1b[0;32m"quoted"\x1b[0m </script>')
    events[3]["created"] = "2026-11-22T10:00:00"  # no fraction of a second
    events[4]["created"] = None
    JobEventSink(job, first)(events)
    JobEventSink(job, second)(runner_events(1, 5))
    for after, before, limit in ((0, None, 100), (0, None, 7), (first.ordinal * 10**9 + 3, None, 10),
                                 (0, second.ordinal * 10**9, 100)):  # fmt: skip
        made = live.stored_payloads_json(job.pk, after, before, limit)
        expected = live.stored_payloads(job.pk, after, before, limit)
        assert [seq for seq, _ in made] == [p["seq"] for p in expected]
        assert [json.loads(text) for _, text in made] == expected
