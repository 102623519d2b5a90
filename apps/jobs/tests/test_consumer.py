"""The job WebSocket: authorization, replay then live with no gap or duplicate, resume."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from apps.jobs.consumers import MAX_FRAME
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events
from portal.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10000}}}


def _communicator(job_id: int, user, after: int = 0) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application,
        f"/ws/jobs/{job_id}/?after={after}",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")],
    )
    comm.scope["user"] = user
    return comm


async def _collect(comm, *, until_seq: int, timeout: float = 10) -> list[dict]:
    """Every event message until the one carrying ``until_seq``; asserts strictly increasing seq."""
    seen: list[dict] = []
    while not seen or seen[-1]["seq"] < until_seq:
        message = await comm.receive_json_from(timeout=timeout)
        if message["kind"] == "events":
            seen.extend(message["events"])
    return seen


@pytest.fixture
def job(demo_cloud, operator):
    return make_job(demo_cloud, operator)


@pytest.fixture(autouse=True)
def _memory_layer():
    with override_settings(CHANNEL_LAYERS=LAYERS):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        yield
        channel_layers.backends.clear()


async def test_outsider_is_refused_with_a_reason(job, outsider):
    comm = _communicator(job.pk, outsider)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_json_from() == {"kind": "error", "reason": "you may not view this job"}
    closed = await comm.receive_output()
    assert closed["type"] == "websocket.close" and closed["code"] == 4403
    await comm.disconnect()


async def test_a_member_of_another_cloud_is_refused_and_a_member_of_the_jobs_cloud_is_not(job, catalog):
    from apps.clouds import services
    from apps.clouds.models import CloudMembership
    from tests.factories import UserFactory

    @database_sync_to_async
    def members():
        other = services.create_cloud(None, slug="other", release="2025.1")
        theirs = UserFactory(username="oscar-other-admin")
        CloudMembership.objects.create(cloud=other, user=theirs, role="admin")
        ours = UserFactory(username="vic-demo-viewer")
        CloudMembership.objects.create(cloud=job.cloud, user=ours, role="viewer")
        return theirs, ours

    theirs, ours = await members()
    comm = _communicator(job.pk, theirs)
    await comm.connect()
    assert await comm.receive_json_from() == {"kind": "error", "reason": "you may not view this job"}
    closed = await comm.receive_output()
    assert closed["type"] == "websocket.close" and closed["code"] == 4403
    await comm.disconnect()

    comm = _communicator(job.pk, ours)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    assert snapshot["kind"] == "snapshot" and snapshot["state"] == job.state
    await comm.disconnect()


async def test_anonymous_user_is_refused(job):
    from django.contrib.auth.models import AnonymousUser

    comm = _communicator(job.pk, AnonymousUser())
    await comm.connect()
    assert (await comm.receive_json_from())["reason"] == "not logged in"
    await comm.disconnect()


async def test_replay_then_live_with_events_arriving_during_the_switch(job, viewer):
    step = await database_sync_to_async(job.steps.get)(position=1)
    sink = JobEventSink(job, step)
    await database_sync_to_async(sink)(runner_events(1, 12000))  # more than two replay chunks

    comm = _communicator(job.pk, viewer)
    await comm.connect()
    snapshot = await comm.receive_json_from()
    assert snapshot["kind"] == "snapshot"

    async def writer():
        for first in range(12001, 15001, 250):  # the producer keeps going while the client replays
            await database_sync_to_async(sink)(runner_events(first, first + 249))
            await asyncio.sleep(0)

    producer = asyncio.create_task(writer())
    events = await _collect(comm, until_seq=step.ordinal * 10**9 + 15000, timeout=20)
    await producer
    counters = [e["counter"] for e in events]
    assert counters == list(range(1, 15001))  # no gap, no duplicate, in order
    await comm.disconnect()


async def test_resume_after_a_reconnect_sends_only_what_is_new(job, viewer):
    step = await database_sync_to_async(job.steps.get)(position=1)
    sink = JobEventSink(job, step)
    await database_sync_to_async(sink)(runner_events(1, 100))
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    first = await _collect(comm, until_seq=step.ordinal * 10**9 + 100)
    last_seen = first[59]["seq"]  # the client saw 60 events, then the connection dropped
    await comm.disconnect()

    await database_sync_to_async(sink)(runner_events(101, 130))
    again = _communicator(job.pk, viewer, after=last_seen)
    await again.connect()
    resumed = await _collect(again, until_seq=step.ordinal * 10**9 + 130)
    assert [e["counter"] for e in resumed] == list(range(61, 131))
    await again.disconnect()


async def test_a_dropped_live_message_is_backfilled_from_the_database(job, viewer):
    step = await database_sync_to_async(job.steps.get)(position=1)
    sink = JobEventSink(job, step)
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    assert (await comm.receive_json_from())["kind"] == "live"
    from apps.jobs import live

    real = live.publish
    live_publish_calls = []

    def lossy(job_id, message):  # the channel layer loses the first batch
        live_publish_calls.append(message)
        if len(live_publish_calls) > 1:
            real(job_id, message)

    import apps.jobs.sink as sink_module

    sink_module.publish = lossy
    try:
        await database_sync_to_async(sink)(runner_events(1, 10))
        await database_sync_to_async(sink)(runner_events(11, 20))
    finally:
        sink_module.publish = real
    events = await _collect(comm, until_seq=step.ordinal * 10**9 + 20)
    assert [e["counter"] for e in events] == list(range(1, 21))
    await comm.disconnect()


async def test_a_state_change_first_sends_what_the_layer_lost(job, viewer, monkeypatch):
    """The last batch of a step is lost: the step's state change brings it from the database first."""
    step = await database_sync_to_async(job.steps.get)(position=1)
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    assert (await comm.receive_json_from())["kind"] == "live"

    import apps.jobs.sink as sink_module
    from apps.jobs import live

    monkeypatch.setattr(sink_module, "publish", lambda job_id, message: None)  # every batch lost
    await database_sync_to_async(JobEventSink(job, step))(runner_events(1, 7))
    await database_sync_to_async(live.publish)(job.pk, {"kind": "step", "id": step.pk, "state": "succeeded"})

    events = await comm.receive_json_from(timeout=10)
    assert events["kind"] == "events"
    assert [e["counter"] for e in events["events"]] == list(range(1, 8))
    assert (await comm.receive_json_from(timeout=10)) == {"kind": "step", "id": step.pk, "state": "succeeded"}
    await comm.disconnect()


async def test_a_watcher_sees_every_step_settle_when_the_job_is_lost(job, viewer, settings):
    """The reaper ends the attempt: the open page gets the final state of every step, none pending."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.jobs.models import Job, Step
    from apps.jobs.services import reap_lost_jobs

    first = await database_sync_to_async(job.steps.get)(position=1)
    await database_sync_to_async(Step.objects.filter(pk=first.pk).update)(state="running")
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    assert (await comm.receive_json_from())["kind"] == "live"

    settings.FERRY_HEARTBEAT_TIMEOUT = 20
    stale = timezone.now() - timedelta(minutes=5)
    await database_sync_to_async(Job.objects.filter(pk=job.pk).update)(worker="w1", heartbeat_at=stale)
    assert await database_sync_to_async(reap_lost_jobs)() == [job.pk]

    message = await comm.receive_json_from(timeout=10)
    assert message["kind"] == "job" and message["state"] == "lost"
    assert [(s["position"], s["state"]) for s in message["steps"]] == [(1, "lost"), (2, "skipped")]
    await comm.disconnect()


async def test_live_events_come_with_the_host_totals_they_changed(job, viewer):
    step = await database_sync_to_async(job.steps.get)(position=1)
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    assert (await comm.receive_json_from())["kind"] == "live"
    await database_sync_to_async(JobEventSink(job, step))(runner_events(1, 3, host="ctl01", changed=True))
    events = await comm.receive_json_from(timeout=10)
    assert [e["counter"] for e in events["events"]] == [1, 2, 3]
    hosts = await comm.receive_json_from(timeout=10)
    assert hosts == {
        "kind": "hosts",
        "hosts": [{"host": "ctl01", "ok": 3, "changed": 3, "failed": 0, "unreachable": 0, "skipped": 0}],
    }
    await comm.disconnect()


async def test_a_job_with_huge_output_replays_in_messages_the_server_can_send(job, viewer):
    step = await database_sync_to_async(job.steps.get)(position=1)
    events = runner_events(1, 3000)
    events[10]["stdout"] = "y" * 2_500_000  # one task that printed 2.5 MB
    await database_sync_to_async(JobEventSink(job, step))(events)
    comm = _communicator(job.pk, viewer)
    await comm.connect()
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    received, sizes = [], []
    while not received or received[-1]["seq"] < step.ordinal * 10**9 + 3000:
        output = await comm.receive_output(timeout=10)
        sizes.append(len(output["text"]))
        received.extend(json.loads(output["text"])["events"])
    assert [e["counter"] for e in received] == list(range(1, 3001))
    assert max(sizes) <= MAX_FRAME
    await comm.disconnect()
