"""Health checks: database, channel layer and worker, for `/healthz` and the dashboard."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
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


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def echo() -> None:
        channel = await layer.new_channel()
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "token": token})
        message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("channel layer returned a different message")

    async_to_sync(echo)()
    return type(layer).__name__


def _worker() -> str:
    from portal.celery import app

    replies = app.control.ping(timeout=settings.FERRY_HEALTH_TIMEOUT, limit=1)
    if not replies:
        raise RuntimeError(f"no Celery worker answered within {settings.FERRY_HEALTH_TIMEOUT:g} s")
    return ", ".join(sorted(name for reply in replies for name in reply))


def run_checks() -> dict:
    """Run every check; return a JSON-ready report with an overall status."""
    checks = {
        "database": _timed(_database),
        "channel_layer": _timed(_channel_layer),
        "worker": _timed(_worker),
    }
    down = [name for name, check in checks.items() if not check.ok]
    return {
        "status": "ok" if not down else "down",
        "down": down,
        "mode": "embedded" if settings.EMBEDDED else "production",
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
