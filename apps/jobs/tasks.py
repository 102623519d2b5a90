"""Celery tasks of the job engine: dispatch queued jobs, run one, reap lost ones."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from runner.orphans import end_orphaned_steps


@worker_ready.connect
def _end_steps_of_dead_workers(**_: object) -> None:
    """A worker starting on a machine ends the Ansible processes a dead worker left there."""
    end_orphaned_steps()


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
    from apps.jobs.services import dispatch, reap_lost_jobs

    lost = reap_lost_jobs()
    if lost:
        end_orphaned_steps()
    dispatch()
    return lost
