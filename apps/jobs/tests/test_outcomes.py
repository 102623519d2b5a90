"""How an attempt ends: the job's result message, and a final state for every step of it.

The runner is replaced by one that reports what each step returned, so these run no Ansible.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.jobs import execution, services
from apps.jobs.models import Job, JobState, Step, StepState
from runner.execute import StepResult

pytestmark = pytest.mark.django_db(transaction=True)


class StepResults(list):
    """(status, rc) of each step the worker runs next, in order, and the messages published."""

    published: list[dict]


@pytest.fixture
def step_results(monkeypatch, settings, tmp_path):
    """(status, rc) of each step the worker runs next, in order; also collects what is published."""
    settings.VAR_DIR = tmp_path
    settings.FERRY_SCRATCH_DIR = tmp_path / "scratch"
    results = StepResults()
    published: list[dict] = []

    def run_step(spec, **_):
        status, rc = results.pop(0)
        if status == "canceled":  # as when an operator cancels while the step runs
            Job.objects.filter(state=JobState.RUNNING).update(state=JobState.CANCELING, cancel_requested=True)
        now = timezone.now()
        return StepResult(status=status, rc=rc, started=now, finished=now, stats={})

    monkeypatch.setattr(execution, "run_step", run_step)
    monkeypatch.setattr("apps.jobs.live.publish", lambda job_id, message: published.append(message))
    monkeypatch.setattr(execution, "publish", lambda job_id, message: published.append(message))
    results.published = published
    return results


def _run(job: Job) -> Job:
    assert job.pk in services.dispatch()
    execution.execute_job(job.pk, worker="test-worker")
    job.refresh_from_db()
    return job


def _states(job: Job) -> list[tuple[int, str]]:
    return list(job.steps.order_by("ordinal").values_list("attempt", "state"))


def test_a_failed_jobs_result_gives_the_steps_return_code(operator, demo_cloud, no_worker, step_results):
    step_results += [("successful", 0), ("failed", 2)]
    job = _run(services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True))
    assert job.state == JobState.FAILED
    assert job.result.startswith("Step 2 (") and " failed with rc 2. " in job.result


def test_a_lost_step_leaves_no_pending_step_behind_once_resumed(
    operator, demo_cloud, no_worker, step_results
):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    services.dispatch()
    first, second, _ = job.steps.order_by("position")
    Step.objects.filter(pk=first.pk).update(state=StepState.SUCCEEDED)
    Step.objects.filter(pk=second.pk).update(state=StepState.RUNNING)
    # A worker claimed it, then went silent: only a claimed job is lost (an unclaimed one is queued again).
    Job.objects.filter(pk=job.pk).update(worker="w1", heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert services.reap_lost_jobs() == [job.pk]
    assert _states(job) == [(1, "succeeded"), (1, "lost"), (1, "skipped")]

    services.resume_job(operator, job, confirmed=True)
    step_results += [("successful", 0), ("successful", 0)]
    job = _run(job)

    assert job.state == JobState.SUCCEEDED
    assert _states(job) == [(1, "succeeded"), (1, "lost"), (1, "skipped"), (2, "succeeded"), (2, "succeeded")]


def test_an_error_in_ferry_ends_the_attempt_with_every_step_final(
    operator, demo_cloud, no_worker, step_results, monkeypatch
):
    def broken(cloud):
        raise RuntimeError("inventory unreadable")

    monkeypatch.setattr(execution, "cloud_context", broken)
    job = _run(services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True))
    assert job.state == JobState.FAILED and "inventory unreadable" in job.result
    assert {state for _, state in _states(job)} == {"skipped"}


@pytest.mark.parametrize(
    ("results", "state"),
    [
        ([("successful", 0), ("successful", 0), ("successful", 0)], "succeeded"),
        ([("failed", 4)], "failed"),
        ([("successful", 0), ("canceled", -15)], "canceled"),
    ],
)
def test_the_last_message_of_a_job_carries_every_steps_final_state(
    operator, demo_cloud, no_worker, step_results, results, state
):
    step_results += results
    job = _run(services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True))
    last = step_results.published[-1]
    assert last["kind"] == "job" and last["state"] == state == job.state
    assert [(s["id"], s["state"], s["rc"]) for s in last["steps"]] == list(
        job.steps.order_by("attempt", "position").values_list("id", "state", "rc")
    )
    assert "pending" not in {s["state"] for s in last["steps"]}


def test_the_reaper_tells_watchers_the_job_is_lost_with_its_final_steps(
    operator, demo_cloud, no_worker, step_results
):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    services.dispatch()
    Step.objects.filter(pk=job.steps.get(position=1).pk).update(state=StepState.RUNNING)
    # A worker claimed it, then went silent: only a claimed job is lost (an unclaimed one is queued again).
    Job.objects.filter(pk=job.pk).update(worker="w1", heartbeat_at=timezone.now() - timedelta(minutes=5))
    services.reap_lost_jobs()
    (message,) = [m for m in step_results.published if m["kind"] == "job"]
    assert message["state"] == "lost" and "went silent" in message["result"]
    assert [s["state"] for s in message["steps"]] == ["lost", "skipped", "skipped"]
