"""The periodic task of change control: queue scheduled jobs whose maintenance window opened."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ferry.windows.release", ignore_result=True)
def release_scheduled_jobs() -> list[int]:
    """Queue scheduled jobs whose window is open now and move those a freeze holds (every 10 s
    from beat: celery beat in production, the in-process beat of ``make run``)."""
    from apps.windows.services import release_due_jobs

    return release_due_jobs()
