"""The in-process Celery worker and beat of the embedded shape.

``make run`` serves Ferry from one process with no servers to install: the
broker is kombu's in-memory transport, so the worker must live in the same
process as the web server. It runs in daemon threads started once per process.
Production runs ``celery worker`` and ``celery beat`` as their own processes and
never calls this module.
"""

from __future__ import annotations

import logging
import threading

from celery.beat import EmbeddedService
from celery.utils.nodenames import host_format

log = logging.getLogger(__name__)
_lock = threading.Lock()
_started: dict[str, object] = {}


def start(*, concurrency: int, beat: bool = True) -> None:
    """Start the worker (and beat) threads once; later calls do nothing."""
    from portal.celery import app

    with _lock:
        if _started:
            return
        worker = app.WorkController(
            pool_cls="threads",
            concurrency=concurrency,
            hostname=host_format("embedded@%h"),
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
        )
        threading.Thread(target=worker.start, name="ferry-worker", daemon=True).start()
        _started["worker"] = worker
        if beat:
            service = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
            service.daemon = True
            service.start()
            _started["beat"] = service
        log.info("embedded Celery worker started with %d threads", concurrency)


def stop() -> None:
    """Stop the threads started by :func:`start` (used by tests and at exit)."""
    with _lock:
        beat = _started.pop("beat", None)
        worker = _started.pop("worker", None)
    if beat is not None:
        beat.stop()
    if worker is not None:
        worker.stop(in_sighandler=False)
