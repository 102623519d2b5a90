"""Gates: a job waits for a person after a gate step, holding its cloud but no worker slot."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clouds.models import Cloud, CloudState
from apps.jobs import execution, services
from apps.jobs.models import Job, JobState, Step, StepState
from apps.jobs.preview import plan_preview
from runner.planner import INTERNAL_ACTIONS

# Committed: the worker's heartbeat thread has its own connection and must see the job.
pytestmark = pytest.mark.django_db(transaction=True)
ROLLOUT = {"target_release": "2025.2", "canary": "cell2"}


@pytest.fixture
def ran(monkeypatch):
    """Step names the worker ran, in order; every step succeeds without Ansible."""
    names: list[str] = []

    def run(job, step, *args, **kwargs):
        names.append(step.name)
        Step.objects.filter(pk=step.pk).update(state=StepState.SUCCEEDED, started_at=timezone.now())
        return "successful"

    monkeypatch.setattr(execution, "_run_step", run)
    return names


def start(job: Job) -> Job:
    """What a worker does with a running job: claim it and run what it still holds."""
    execution.execute_job(job.pk, worker="w1")
    job.refresh_from_db()
    return job


def rollout_waiting(operator, cloud) -> Job:
    job = services.launch_job(operator, cloud, "cell-rollout", params=ROLLOUT, confirmed=True)
    assert job.pk in services.dispatch()
    return start(job)


def test_a_cell_rollout_waits_after_the_canary(operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    assert job.state == JobState.WAITING and job.worker == ""
    assert ran[-1] == "Upgrade canary cell cell2"
    assert job.result.startswith("Waiting after step") and "continue or abort" in job.result
    pending = job.steps.filter(state=StepState.PENDING).order_by("position")
    assert pending.first().name == "Upgrade cell cell1"
    assert AuditEntry.objects.filter(action="job.waiting", object_id=str(job.pk)).exists()


def test_continue_runs_only_the_steps_after_the_gate(operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    before = list(ran)
    job = services.continue_job(operator, job, reason="canary looks healthy")
    assert job.state == JobState.RUNNING and ("run", job.pk) in no_worker
    job = start(job)
    assert job.state == JobState.SUCCEEDED
    # Every step ran once, but Ferry's own (the password merge), which no runner plays.
    played = job.steps.exclude(action__in=INTERNAL_ACTIONS)
    assert ran[len(before) :][0] == "Upgrade cell cell1" and len(ran) == played.count()
    entry = AuditEntry.objects.get(action="job.continue", object_id=str(job.pk))
    assert entry.detail["reason"] == "canary looks healthy"


def test_a_waiting_job_keeps_its_cloud_locked_but_holds_no_slot(
    operator, demo_cloud, no_worker, ran, settings
):
    settings.FERRY_JOB_SLOTS = 1
    job = rollout_waiting(operator, demo_cloud)
    other = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    assert services.dispatch() == []  # the cloud is locked by the waiting job
    assert Job.objects.get(pk=other.pk).state == JobState.QUEUED
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.filter(pk=other.pk).update(state=JobState.RUNNING)
    read_only = services.launch_job(operator, demo_cloud, "prechecks")
    assert services.dispatch() == [read_only.pk]  # the one slot is free for a job that only reads
    assert job.pk not in services.reap_lost_jobs()
    with pytest.raises(ValidationError, match="every worker slot is busy"):
        services.continue_job(operator, job, reason="go on")
    assert Job.objects.get(pk=job.pk).state == JobState.WAITING


def test_abort_ends_the_job_with_the_reason_and_frees_the_cloud(operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    assert Cloud.objects.get(pk=demo_cloud.pk).state == CloudState.UPGRADING
    job = services.abort_job(operator, job, reason="cell2 lost its conductor")
    assert job.state == JobState.CANCELED and "cell2 lost its conductor" in job.result
    # The canary cell runs the new release, the others the old: someone must look at it.
    assert Cloud.objects.get(pk=demo_cloud.pk).state == CloudState.DEGRADED
    assert not job.steps.filter(state=StepState.PENDING).exists()
    other = services.launch_job(operator, demo_cloud, "reconfigure", confirmed=True)
    assert other.pk in services.dispatch()
    assert AuditEntry.objects.get(action="job.abort", object_id=str(job.pk)).detail["reason"] == (
        "cell2 lost its conductor"
    )


def test_continue_and_abort_need_a_reason_and_a_waiting_job(operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    for decide in (services.continue_job, services.abort_job):
        with pytest.raises(ValidationError) as refused:
            decide(operator, job, reason="  ")
        assert "reason" in refused.value.message_dict
    services.abort_job(operator, job, reason="stop")
    with pytest.raises(ValidationError, match="not waiting at a gate"):
        services.continue_job(operator, job, reason="again")


def test_only_operators_continue(viewer, operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    with pytest.raises(PermissionDenied):
        services.continue_job(viewer, job, reason="looks fine")
    assert Job.objects.get(pk=job.pk).state == JobState.WAITING


def test_a_viewer_cannot_abort_a_waiting_job_and_nothing_changes(
    api_as, viewer, operator, demo_cloud, no_worker, ran
):
    job = rollout_waiting(operator, demo_cloud)
    with pytest.raises(PermissionDenied):
        services.abort_job(viewer, job, reason="I would rather not")
    response = api_as(viewer).post(
        f"/api/jobs/{job.pk}/abort/", {"reason": "I would rather not"}, format="json"
    )
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.WAITING and job.result.startswith("Waiting after step")
    assert job.steps.filter(state=StepState.PENDING).first().name == "Upgrade cell cell1"
    assert not job.steps.filter(state=StepState.CANCELED).exists()
    assert Cloud.objects.get(pk=demo_cloud.pk).state == CloudState.UPGRADING
    assert not AuditEntry.objects.filter(action="job.abort").exists()


def test_the_active_jobs_and_the_dashboard_show_a_job_while_it_waits(
    client_as, viewer, operator, demo_cloud, no_worker, ran, monkeypatch
):
    monkeypatch.setattr(
        "apps.dashboard.views.run_checks", lambda: {"mode": "test", "status": "ok", "down": [], "checks": {}}
    )
    job = rollout_waiting(operator, demo_cloud)
    assert job.state == JobState.WAITING
    client = client_as(viewer)
    link, badge = (
        f'<a href="/jobs/{job.pk}/">#{job.pk}</a>',
        '<span class="ferry-badge waiting">waiting</span>',
    )
    active = client.get("/jobs/active/").content.decode()
    assert link in active and badge in active
    listed = client.get("/jobs/").content.decode()
    running = listed[listed.index('<section id="active-jobs">') : listed.index("<h2>Recent</h2>")]
    assert link in running and badge in running
    page = client.get("/").content.decode()
    attention = page[page.index('<section id="attention">') : page.index('<section id="scheduled">')]
    assert link in attention and badge in attention and "continue or abort" in attention


def test_continue_rechecks_the_remaining_plan(operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    demo_cloud.cells.filter(name="cell1").delete()
    with pytest.raises(ValidationError, match="cannot continue"):
        services.continue_job(operator, job, reason="go on")
    assert Job.objects.get(pk=job.pk).state == JobState.WAITING


def test_a_cancel_asked_for_as_the_gate_step_ends_cancels_instead_of_waiting(
    operator, demo_cloud, no_worker, monkeypatch
):
    job = services.launch_job(operator, demo_cloud, "cell-rollout", params=ROLLOUT, confirmed=True)
    services.dispatch()

    def run(job_, step, *args, **kwargs):
        Step.objects.filter(pk=step.pk).update(state=StepState.SUCCEEDED)
        if step.gate:
            Job.objects.filter(pk=job_.pk).update(state=JobState.CANCELING, cancel_requested=True)
        return "successful"

    monkeypatch.setattr(execution, "_run_step", run)
    job = start(job)
    assert job.state == JobState.CANCELED
    assert not job.steps.filter(state=StepState.PENDING).exists()


def test_ffu_pauses_between_hops_only_when_asked(operator, demo_cloud, no_worker, ran):
    params = {"target_release": "2026.2"}
    plain = plan_preview(demo_cloud, "ffu", params)
    assert not any(s["gate"] for s in plain["steps"])
    paused = plan_preview(demo_cloud, "ffu", {**params, "pause_between_hops": "true"})
    assert sum(s["gate"] for s in paused["steps"]) == len(paused["hops"]) - 1 >= 1
    job = services.launch_job(
        operator, demo_cloud, "ffu", params={**params, "pause_between_hops": True}, confirmed=True
    )
    services.dispatch()
    job = start(job)
    assert job.state == JobState.WAITING
    assert job.steps.filter(gate=True, state=StepState.SUCCEEDED).count() == 1


def test_the_api_continues_and_aborts_with_a_reason(api_as, operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    client = api_as(operator)
    assert client.get(f"/api/jobs/{job.pk}/").json()["state"] == "waiting"
    missing = client.post(f"/api/jobs/{job.pk}/continue/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    done = client.post(f"/api/jobs/{job.pk}/abort/", {"reason": "not today"}, format="json")
    assert done.status_code == 202 and done.json()["state"] == "canceled"
    again = client.post(f"/api/jobs/{job.pk}/continue/", {"reason": "x"}, format="json")
    assert again.status_code == 400 and "not waiting" in str(again.json())


def test_the_job_page_shows_the_gate_buttons_while_waiting(client_as, operator, demo_cloud, no_worker, ran):
    job = rollout_waiting(operator, demo_cloud)
    page = client_as(operator).get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="gate-form" class="ferry-gate" >' in page or 'id="gate-form" class="ferry-gate">' in page
    response = client_as(operator).post(f"/jobs/{job.pk}/continue/", {"reason": "checked cell2"})
    assert response.status_code == 302 and Job.objects.get(pk=job.pk).state == JobState.RUNNING
    listed = client_as(operator).get("/jobs/active/").content.decode()
    assert f"#{job.pk}" in listed


def test_an_upgrade_canceled_before_it_changed_anything_leaves_the_cloud_deployed(
    operator, demo_cloud, no_worker, ran
):
    Cloud.objects.filter(pk=demo_cloud.pk).update(state=CloudState.DEPLOYED)
    job = services.launch_job(
        operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
    )
    services.dispatch()
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, state=JobState.CANCELING)
    start(job)  # the worker sees the cancel before its first step
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELED
    assert Cloud.objects.get(pk=demo_cloud.pk).state == CloudState.DEPLOYED


def test_the_command_line_continues_and_aborts_with_a_reason(operator, viewer, demo_cloud, no_worker, ran):
    from io import StringIO

    from django.core.management import CommandError, call_command

    job = rollout_waiting(operator, demo_cloud)
    with pytest.raises(CommandError, match="user: You need the operator role"):
        call_command("gate", str(job.pk), "continue", "--reason", "x", "--user", viewer.username)
    with pytest.raises(CommandError, match="reason: required"):
        call_command("gate", str(job.pk), "continue", "--reason", " ", "--user", operator.username)
    out = StringIO()
    call_command(
        "gate", str(job.pk), "continue", "--reason", "canary fine", "--user", operator.username, stdout=out
    )
    assert out.getvalue().strip() == f"job {job.pk} is running"
    assert AuditEntry.objects.get(action="job.continue", object_id=str(job.pk)).actor == operator
    with pytest.raises(CommandError, match="not waiting at a gate"):
        call_command("gate", str(job.pk), "abort", "--reason", "late", "--user", operator.username)
    with pytest.raises(CommandError, match="job: no job #999999"):
        call_command("gate", "999999", "abort", "--reason", "x", "--user", operator.username)
