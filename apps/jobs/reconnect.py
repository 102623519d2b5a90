"""Riding out a database connection that was cut (a restart, a failover, pg_terminate_backend).

Django does not reconnect by itself: once a connection died, every later query on it fails until
it is closed. A worker's threads hold theirs for a whole job, so each one drops a broken connection
and tries again, for long enough to outlast a restart, instead of failing (or silently losing) the
step it was recording.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_SECONDS = 120.0


def drop_broken_connection() -> None:
    """Close this thread's connection if it no longer works, so the next query opens a new one."""
    if connection.connection is None or connection.in_atomic_block:
        return
    if not connection.is_usable():
        with contextlib.suppress(DatabaseError):
            connection.close()


def retrying(fn: Callable[..., T], *args, retry_seconds: float = RETRY_SECONDS, **kwargs) -> T:
    """Call ``fn``; while the database connection is lost, reconnect and call it again.

    Only for work that is safe to repeat (conditional updates, idempotent writes) and that holds no
    transaction open across the call.
    """
    deadline = time.monotonic() + retry_seconds
    delay = 0.1
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            log.warning("database connection lost (%s); reconnecting in %.1f s", exc, delay)
            drop_broken_connection()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
