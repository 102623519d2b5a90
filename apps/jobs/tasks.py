"""Celery tasks of the job engine: dispatch queued jobs, run one, reap lost ones."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from celery.signals import beat_init, worker_ready
from django.conf import settings
from django.db import connection

from runner.orphans import end_orphaned_steps

log = logging.getLogger(__name__)
REAP_SECONDS = 5.0
DELIVERY_SECONDS = 3.0  # of each sweep at most, so reaping never waits long behind a slow receiver


@worker_ready.connect
def _end_steps_of_dead_workers(**_: object) -> None:
    """A worker starting on a machine ends the Ansible processes a dead worker left there."""
    end_orphaned_steps()


def sweep() -> list[int]:
    """Mark jobs whose worker went silent as lost, expire approval requests past their time, start
    queued jobs while slots are free, then send the notifications that are due."""
    from apps.approvals.services import expire_requests
    from apps.jobs.services import dispatch, reap_lost_jobs

    lost = reap_lost_jobs()
    expire_requests()
    dispatch()
    _deliver_notifications()
    return lost


def _deliver_notifications() -> None:
    """Send due notifications within a budget; a failure here never breaks the sweep (what was not
    sent stays in the outbox for the next one)."""
    from apps.notifications.delivery import deliver_due

    try:
        deliver_due(seconds=DELIVERY_SECONDS)
    except Exception:
        log.warning("delivering notifications failed; trying again at the next sweep", exc_info=True)


def _sweep_forever(stop: threading.Event) -> None:
    while not stop.wait(REAP_SECONDS):
        try:
            sweep()
        except Exception:  # the database or Redis is away: try again at the next tick
            log.warning("job sweep failed; trying again in %.0f s", REAP_SECONDS, exc_info=True)
        finally:
            connection.close()


@beat_init.connect
def _sweep_in_beat(**_: object) -> None:
    """Beat reaps lost jobs itself, so a job is marked lost even when its worker was the only one.

    Its scheduled ``ferry.jobs.reap`` needs a worker to run; this thread does not. Both at once are
    harmless: every change is a conditional update. The embedded shape's worker lives in the web
    process and cannot die apart from it, so there the task is enough.
    """
    if settings.EMBEDDED:
        return
    stop = threading.Event()
    threading.Thread(target=_sweep_forever, args=(stop,), name="ferry-sweep", daemon=True).start()


@shared_task(name="ferry.jobs.dispatch", ignore_result=True)
def dispatch_jobs() -> list[int]:
    """Start queued jobs while slots are free."""
    from apps.jobs.services import dispatch

    return dispatch()


@shared_task(name="ferry.jobs.run", bind=True, ignore_result=True, acks_late=False)
def run_job(self, job_id: int) -> None:
    """Run every remaining step of a job in this worker, then start whatever waits for a slot.

    ``acks_late`` is off on purpose: a job whose worker dies must not silently
    restart from the top on another worker; the reaper marks it lost and an
    operator resumes it from the step that failed.
    """
    from apps.jobs.execution import execute_job
    from apps.jobs.services import dispatch

    try:
        execute_job(job_id, worker=self.request.hostname or "worker")
    finally:
        dispatch()


@shared_task(name="ferry.jobs.reap", ignore_result=True)
def reap_jobs() -> list[int]:
    """Mark jobs whose worker went silent as lost (runs every few seconds from beat)."""
    lost = sweep()
    if lost:
        end_orphaned_steps()
    return lost
