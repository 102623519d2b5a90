"""Hostile WebSocket requests and frames: a bad request is closed with a 4xxx code that says why,
a bad frame is ignored and the socket keeps streaming."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from apps.jobs.live import group_for
from apps.jobs.tests.factories import make_job
from portal.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 100}}}


@pytest.fixture(autouse=True)
def _memory_layer():
    with override_settings(CHANNEL_LAYERS=LAYERS):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        yield
        channel_layers.backends.clear()


@pytest.fixture
def job(demo_cloud, operator):
    return make_job(demo_cloud, operator)


def _communicator(path: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
    )
    comm.scope["user"] = user
    return comm


async def _closed_with(comm) -> tuple[int, str]:
    """The close code, after the error message that says why."""
    reason = (await comm.receive_json_from())["reason"]
    closed = await comm.receive_output()
    assert closed["type"] == "websocket.close"
    return closed["code"], reason


@pytest.mark.parametrize(
    ("path", "code", "fragment"),
    [
        ("/ws/jobs/abc/", 4404, "abc"),
        ("/ws/jobs/" + "9" * 30 + "/", 4404, "999"),
        ("/ws/nothing/here/", 4404, "ws/nothing/here/"),
        ("/ws/jobs/{job}/?after=" + "9" * 30, 4400, "after"),
    ],
)
async def test_bad_websocket_request_is_closed_with_a_4xxx_code(job, viewer, path, code, fragment):
    comm = _communicator(path.format(job=job.pk), viewer)
    connected, _ = await comm.connect()
    assert connected
    got, reason = await _closed_with(comm)
    assert got == code and fragment in reason
    await comm.disconnect()


@pytest.mark.parametrize(
    "frame", [{"text_data": "not json {"}, {"bytes_data": b"\x00\xff binary"}, {"text_data": "[" * 100000}]
)
async def test_bad_frame_is_ignored_and_the_stream_goes_on(job, viewer, frame):
    comm = _communicator(f"/ws/jobs/{job.pk}/", viewer)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from())["kind"] == "snapshot"
    assert (await comm.receive_json_from())["kind"] == "live"
    await comm.send_to(**frame)
    await comm.send_to(**frame)
    layer = get_channel_layer()
    state = await database_sync_to_async(lambda: job.state)()
    await layer.group_send(
        group_for(job.pk), {"type": "job.update", "message": {"kind": "job", "state": state}}
    )
    message = await comm.receive_json_from(timeout=5)
    assert message == {"kind": "job", "state": state}
    await comm.disconnect()
