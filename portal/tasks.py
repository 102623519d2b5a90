"""Project-level tasks: the round trip that proves the worker and channel layer."""

from __future__ import annotations

import os
import socket

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer


def roundtrip_group(token: str) -> str:
    """The channel group a round-trip client listens on."""
    return f"roundtrip.{token}"


@shared_task(name="ferry.roundtrip")
def roundtrip(token: str) -> dict:
    """Publish a message from the worker to the channel group of ``token``."""
    result = {"token": token, "worker_host": socket.gethostname(), "worker_pid": os.getpid()}
    async_to_sync(get_channel_layer().group_send)(
        roundtrip_group(token), {"type": "roundtrip.result", "result": result}
    )
    return result
