"""What a job's run writes in the audit trail: its start, its end and a cancel, each naming its actor
and the job.

The runner is replaced by one that reports what each step returned, so these run no Ansible.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.jobs import execution, services
from apps.jobs.models import Job, JobState
from runner.execute import StepResult

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = "celery@worker-7"


@pytest.fixture
def step_results(monkeypatch, settings, tmp_path):
    """The status of each step the worker runs next, in order; a callable in the list runs first
    (as something a person does while the step runs) and the step then reports "canceled"."""
    settings.VAR_DIR = tmp_path
    settings.FERRY_SCRATCH_DIR = tmp_path / "scratch"
    results: list = []

    def run_step(spec, **_):
        status = results.pop(0)
        if callable(status):
            status()
            status = "canceled"
        now = timezone.now()
        return StepResult(
            status=status, rc=0 if status == "successful" else 2, started=now, finished=now, stats={}
        )

    monkeypatch.setattr(execution, "run_step", run_step)
    monkeypatch.setattr("apps.jobs.live.publish", lambda job_id, message: None)
    monkeypatch.setattr(execution, "publish", lambda job_id, message: None)
    return results


def _run(job: Job) -> Job:
    assert job.pk in services.dispatch()
    execution.execute_job(job.pk, worker=WORKER)
    job.refresh_from_db()
    return job


def _entries(job: Job, *actions: str) -> list[AuditEntry]:
    """The job's entries of these actions, oldest first."""
    return list(
        AuditEntry.objects.filter(object_type="jobs.job", object_id=str(job.pk), action__in=actions).order_by(
            "id"
        )
    )


def test_a_job_that_succeeds_writes_its_start_then_its_end_for_its_requester(
    operator, demo_cloud, no_worker, step_results
):
    step_results += ["successful"] * 3
    job = _run(services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True))
    assert job.state == JobState.SUCCEEDED
    started, ended = _entries(job, "job.started", "job.succeeded")
    assert started.action == "job.started" and ended.action == "job.succeeded"
    for entry in (started, ended):
        assert (entry.actor, entry.actor_name) == (operator, "otto-operator")
        assert entry.object_repr == str(job) and entry.cloud_slug == "demo"
    assert started.detail == {"attempt": 1, "worker": WORKER, "from_step": 1}
    assert ended.detail == {"attempt": 1}
    # The start is written once, after the launch and before any step's outcome.
    launch = AuditEntry.objects.get(action="job.launch", object_id=str(job.pk))
    assert launch.id < started.id < ended.id
    assert len(_entries(job, "job.started")) == 1


def test_a_job_that_fails_writes_its_end_and_its_resumed_attempt_starts_again(
    operator, admin_user, demo_cloud, no_worker, step_results
):
    step_results += ["successful", "failed"]
    job = _run(services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True))
    assert job.state == JobState.FAILED
    [failed] = _entries(job, "job.failed")
    assert failed.actor == operator and failed.detail == {"attempt": 1} and failed.cloud_slug == "demo"

    # Resumed by someone else: their resume is theirs, the run is still the requester's.
    services.resume_job(admin_user, job, confirmed=True)
    step_results += ["successful", "successful"]
    job = _run(job)
    assert job.state == JobState.SUCCEEDED
    first, second = _entries(job, "job.started")
    assert first.detail == {"attempt": 1, "worker": WORKER, "from_step": 1}
    assert second.detail == {"attempt": 2, "worker": WORKER, "from_step": 2}
    assert second.actor == operator
    assert _entries(job, "job.resume")[0].actor == admin_user
    assert [e.detail for e in _entries(job, "job.succeeded")] == [{"attempt": 2}]


def test_canceling_a_running_job_writes_the_cancel_for_who_asked_and_the_end_for_the_requester(
    operator, admin_user, demo_cloud, no_worker, step_results
):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    step_results += ["successful", lambda: services.cancel_job(admin_user, job)]
    job = _run(job)
    assert job.state == JobState.CANCELED
    started, cancel, ended = _entries(job, "job.started", "job.cancel", "job.canceled")
    assert [started.action, cancel.action, ended.action] == ["job.started", "job.cancel", "job.canceled"]
    assert cancel.actor == admin_user and cancel.detail == {"state": JobState.CANCELING}
    assert started.actor == operator and ended.actor == operator
    assert ended.detail == {"attempt": 1}
    assert {e.object_repr for e in (started, cancel, ended)} == {str(job)}


def test_a_job_canceled_before_a_worker_took_it_never_writes_a_start(
    operator, viewer, demo_cloud, no_worker, step_results
):
    job = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    services.cancel_job(operator, job)
    execution.execute_job(job.pk, worker=WORKER)
    [cancel] = _entries(job, "job.cancel", "job.started", "job.canceled")
    assert cancel.action == "job.cancel" and cancel.actor == operator
    assert cancel.detail == {"state": JobState.CANCELED} and cancel.cloud_slug == "demo"
    assert step_results == []


def test_a_job_refused_at_its_start_writes_no_start(operator, demo_cloud, no_worker, step_results):
    job = services.launch_job(
        operator, demo_cloud, "cell-rollout", params={"target_release": "2025.2"}, confirmed=True
    )
    demo_cloud.cells.filter(name="cell2").delete()  # the plan no longer holds
    job = _run(job)
    assert job.state == JobState.FAILED
    assert [e.action for e in _entries(job, "job.started", "job.refused")] == ["job.refused"]
