"""Test data for jobs: a job with steps, and ansible-runner-shaped events."""

from __future__ import annotations

import uuid

from apps.jobs.models import Job, JobState, Step


def make_job(cloud, user=None, *, steps: int = 2, state: str = JobState.RUNNING) -> Job:
    job = Job.objects.create(cloud=cloud, kind="prechecks", mutating=False, state=state, requested_by=user)
    Step.objects.bulk_create(
        Step(job=job, ordinal=i, position=i, name=f"step {i}", action="prechecks", playbook="site.yml")
        for i in range(1, steps + 1)
    )
    return job


def runner_events(
    first: int,
    last: int,
    *,
    host: str = "ctl01",
    event: str = "runner_on_ok",
    changed: bool = False,
    stdout: str | None = None,
) -> list[dict]:
    """ansible-runner events with counters first..last, as the runner hands them to a sink."""
    return [
        {
            "uuid": str(uuid.uuid4()),
            "counter": counter,
            "event": event,
            "stdout": stdout if stdout is not None else f"ok: [{host}] line {counter}",
            "start_line": counter,
            "end_line": counter + 1,
            "created": "2026-11-22T10:00:00.000001",
            "event_data": {
                "host": host,
                "task": f"task {counter}",
                "play": "play",
                "res": {"changed": changed},
            },
        }
        for counter in range(first, last + 1)
    ]
