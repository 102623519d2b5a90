"""Health checks: database, channel layer and worker, for `/healthz` and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.db import connection


@dataclass
class Check:
    """The outcome of one health check."""

    ok: bool
    detail: str
    ms: float


def _timed(fn) -> Check:
    started = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a health check reports every failure, whatever it is
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return Check(ok=ok, detail=detail, ms=round((time.perf_counter() - started) * 1000, 1))


# The checks run side by side in these threads, so /healthz answers within one check's timeout
# whatever is down; a check still hanging past it is reported down and finishes on its own
# (every client involved has its own socket timeouts).
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="healthz")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor
    finally:
        connection.close()  # a pool thread's connection: never left open between checks


def _channel_layer() -> str:
    if get_channel_layer() is None:
        raise RuntimeError("no channel layer configured")
    # A layer of its own for each check: checks run on loops of their own, and a receive cut off
    # by the timeout must not leave the shared layer's receive state behind for consumers.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)

    async def echo() -> None:
        channel = await layer.new_channel()
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned a different message")

    async def bounded() -> None:
        try:
            await asyncio.wait_for(echo(), settings.FERRY_HEALTH_TIMEOUT)
        finally:
            close = getattr(layer, "close_pools", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(close(), 0.5)

    async_to_sync(bounded)()
    return type(layer).__name__


def _worker() -> str:
    from portal.celery import app

    replies = app.control.ping(timeout=settings.FERRY_HEALTH_TIMEOUT, limit=1)
    if not replies:
        raise RuntimeError(f"no Celery worker answered within {settings.FERRY_HEALTH_TIMEOUT:g} s")
    return ", ".join(sorted(name for reply in replies for name in reply))


CHECKS = {"database": _database, "channel_layer": _channel_layer, "worker": _worker}


def run_checks() -> dict:
    """Run every check at once; a JSON-ready report with an overall status, within the health timeout.

    A check that has not answered once ``FERRY_HEALTH_TIMEOUT`` (plus a little) has passed counts
    as down, so a frozen Redis or PostgreSQL never holds the page for longer than that.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + settings.FERRY_HEALTH_TIMEOUT + 0.5
    futures = {name: _pool.submit(_timed, fn) for name, fn in CHECKS.items()}
    checks = {}
    for name, future in futures.items():
        try:
            checks[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            waited = round((time.perf_counter() - started) * 1000, 1)
            checks[name] = Check(ok=False, detail=f"no answer within {waited / 1000:.1f} s", ms=waited)
    down = [name for name, check in checks.items() if not check.ok]
    return {
        "status": "ok" if not down else "down",
        "down": down,
        "mode": "embedded" if settings.EMBEDDED else "production",
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
