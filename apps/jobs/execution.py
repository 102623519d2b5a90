"""Running a job in a worker: its steps in order, through the runner, with control and history.

This is the only place where Django meets the runner: it builds the runner's
plain description of the cloud, hands each step to ``runner.execute.run_step``
with the event sink and a cancel check (JobControl beats the job's heartbeat beside it), and
records what happened.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit.context import audit_context
from apps.audit.services import record
from apps.backups.models import Backup
from apps.backups.services import incoming_dir, record_fetched_backup, restore_config
from apps.catalog.models import Release
from apps.clouds.files import runner_files
from apps.clouds.models import Cloud, CloudState, ReleaseChange
from apps.clouds.passwords import merge_passwords
from apps.clouds.running import record_running_release
from apps.clouds.services import cloud_inventory, cloud_passwords, parse_yaml_mapping, secret_values
from apps.jobs.live import flush, publish, publish_job_state
from apps.jobs.models import ACTIVE_STATES, Job, JobState, Step, StepState
from apps.jobs.reconnect import drop_broken_connection, retrying
from apps.jobs.services import (
    bump_heartbeat,
    claim_job,
    cloud_state_after_stop,
    stale_plan_reason,
    transition,
)
from apps.jobs.sink import JobEventSink
from apps.notifications.services import notify
from runner.backends import CloudContext, StepInput, backend_for
from runner.execute import run_step
from runner.planner import (
    BACKUP_FETCH,
    INTERNAL_ACTIONS,
    KINDS,
    MERGE_PASSWORDS,
    RESTORE_CONFIG,
    cell_upgrade_release,
)

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
UPGRADE_KINDS = frozenset(name for name, spec in KINDS.items() if spec.moves_release)


class JobControl(threading.Thread):
    """A thread that beats the job's heartbeat and reads its cancel flag every ``POLL_SECONDS``.

    It runs beside ansible-runner so that a busy or slow step never starves
    the heartbeat (the reaper would call the job lost); ``poll`` only reads
    the flag it keeps.
    """

    def __init__(self, job_id: int):
        super().__init__(name=f"job-{job_id}-control", daemon=True)
        self.job_id = job_id
        self.cancel = threading.Event()
        self._halt = threading.Event()

    def beat(self) -> None:
        """Beat once and read the cancel flag, on the calling thread's connection."""
        try:
            if not bump_heartbeat(self.job_id):
                self.cancel.set()
        except DatabaseError:
            log.warning("heartbeat of job %s failed; retrying", self.job_id, exc_info=True)
            drop_broken_connection()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                self.beat()
                self._halt.wait(POLL_SECONDS)
        finally:
            connection.close()

    def poll(self) -> bool:
        return self.cancel.is_set()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def cloud_context(cloud: Cloud) -> CloudContext:
    """The runner's plain view of a cloud: inventory, variables, secrets, configuration files,
    where its lab lives."""
    return CloudContext(
        slug=cloud.slug,
        inventory=cloud_inventory(cloud),
        globals=parse_yaml_mapping(cloud.globals_yml, "globals_yml"),
        passwords=cloud_passwords(cloud),
        secrets=secret_values(cloud),
        release=cloud.release.series if cloud.release_id else None,
        distro=cloud.distro,
        distro_version=cloud.distro_version,
        var_dir=Path(settings.VAR_DIR),
        globals_text=cloud.globals_yml,
        files=runner_files(cloud),
    )


def execute_job(job_id: int, *, worker: str) -> None:
    """Run the remaining steps of the job's current attempt, then settle the job's state.

    What the run records in the audit trail carries the request id of the job's launch (or resume).
    """
    job = Job.objects.select_related("cloud", "cloud__release").get(pk=job_id)
    with audit_context(request_id=job.request_id):
        _execute(job, worker)


def _execute(job: Job, worker: str) -> None:
    job_id = job.pk
    if job.state not in ACTIVE_STATES:
        log.info("job %s is %s, not running; nothing to do", job_id, job.state)
        return
    if not claim_job(job_id, worker):
        log.info("job %s was taken by another worker or queued again; not running it", job_id)
        return
    publish(job_id, {"kind": "job", "state": job.state, "worker": worker})
    from apps.approvals.services import approval_lapsed_at_start  # approvals build on the job engine

    if approval_lapsed_at_start(job):
        return  # the cloud changed since its approval: it awaits approval of the new plan
    pending = list(job.steps.filter(attempt=job.attempt, state=StepState.PENDING).order_by("position"))
    stale = stale_plan_reason(job, pending)
    if stale:
        _refuse_to_start(job, stale)
        return
    retrying(_start, job, worker, pending[0].position if pending else None)
    control = JobControl(job_id)
    # Once before the first step, so a cancel that came before the worker did is never missed
    # because the thread had not read the flag yet.
    control.beat()
    control.start()
    try:
        _run_steps(job, control)
    except Exception as exc:
        log.exception("job %s broke off", job_id)
        retrying(_give_up, job, exc)
    finally:
        control.stop()


def _start(job: Job, worker: str, first_step: int | None) -> None:
    """The claimed job passed its checks and its steps run now: mark an upgrade's cloud upgrading,
    audit the start and tell the requester, in one transaction: a connection cut midway leaves none
    of it, and ``retrying`` writes it again."""
    with transaction.atomic():
        if job.kind in UPGRADE_KINDS:
            Cloud.objects.filter(pk=job.cloud_id).update(state=CloudState.UPGRADING)
        # As its end is: attributed to the requester, with the attempt; which worker ran it and
        # from which step (a job continued after a gate starts again further on) say where it ran.
        record(
            job.requested_by,
            "job.started",
            job,
            detail={"attempt": job.attempt, "worker": worker, "from_step": first_step},
        )
        notify("job.started", job)


def _refuse_to_start(job: Job, why: str) -> None:
    """The cloud changed since the job was planned: run nothing, fail the job and say why."""
    message = f"Not started: {why}. Nothing ran; plan the job again."
    with transaction.atomic():
        if transition(job, JobState.FAILED, finished_at=timezone.now(), result=message[:1000]):
            job.steps.filter(attempt=job.attempt, state=StepState.PENDING).update(state=StepState.SKIPPED)
            record(job.requested_by, "job.refused", job, detail={"reason": why[:500]})
            notify("job.failed", job)
            transaction.on_commit(partial(publish_job_state, job))
    flush()


def _give_up(job: Job, exc: Exception) -> None:
    """An error in Ferry itself (not in Ansible): fail the job, say why, keep what ran."""
    job.refresh_from_db()
    Step.objects.filter(job=job, attempt=job.attempt, state=StepState.RUNNING).update(
        state=StepState.FAILED, finished_at=timezone.now()
    )
    Step.objects.filter(job=job, attempt=job.attempt, state=StepState.PENDING).update(state=StepState.SKIPPED)
    if job.state in (JobState.RUNNING, JobState.CANCELING):
        message = f"Ferry could not go on: {type(exc).__name__}: {exc}. Resume once the cause is fixed."
        if transition(job, JobState.FAILED, finished_at=timezone.now(), result=message[:1000]):
            record(job.requested_by, "job.failed", job, detail={"error": str(exc)[:500]})
            notify("job.failed", job)
            publish_job_state(job)


def _run_steps(job: Job, control: JobControl) -> None:
    cloud = job.cloud
    backend = backend_for(job.backend)
    # Failure injection and pacing for the lab (lab_fail, lab_unreachable, lab_slow_seconds…).
    lab_vars = {k: v for k, v in job.params.items() if k.startswith("lab_")}
    if lab_vars.pop("lab_fail_once", False) and job.attempt > 1:
        # The injected fault stands for one a person fixed before resuming the job.
        lab_vars = {k: v for k, v in lab_vars.items() if k not in ("lab_fail", "lab_unreachable")}
    context = cloud_context(cloud)
    context.lab_vars = lab_vars
    run_root = Path(settings.VAR_DIR) / "runs" / f"job-{job.pk}" / f"attempt-{job.attempt}"
    outcome, failed_step = JobState.SUCCEEDED, None
    # Only what is still pending: a job continued after a gate has run the steps before it.
    steps = list(job.steps.filter(attempt=job.attempt, state=StepState.PENDING).order_by("position"))
    for index, step in enumerate(steps):
        if control.poll():
            outcome = JobState.CANCELED
            retrying(_skip, steps[index:], StepState.CANCELED)
            break
        if step.action == RESTORE_CONFIG:
            status = _restore_config(job, step)
        elif step.action == MERGE_PASSWORDS:
            status = _merge_passwords(job, step)
        else:
            status = _run_step(job, step, backend, context, run_root, control)
        if status == "successful":
            if step.completes_release:
                retrying(_release_reached, job, step.completes_release)
            # A cell rollout's cell step moves that cell alone; a completing step the whole cloud.
            moved_to = step.completes_release or cell_upgrade_release(
                step.action, step.tags, step.limit, step.extra_vars
            )
            if moved_to:
                retrying(
                    record_running_release, job.requested_by, cloud, moved_to, limit=step.limit, job_id=job.pk
                )
            if step.completes_release or step.action in INTERNAL_ACTIONS:
                # The steps after this one run with what the cloud has now (its release, or the
                # configuration and passwords Ferry's own step changed).
                context = retrying(_fresh_context, cloud.pk)
                context.lab_vars = lab_vars
            if step.gate and index + 1 < len(steps) and not control.poll():
                # The worker lets go here; the steps after the gate stay pending for continue.
                outcome, failed_step = JobState.WAITING, step
                break
            continue
        outcome = JobState.CANCELED if status == "canceled" else JobState.FAILED
        failed_step = step
        retrying(_skip, steps[index + 1 :], StepState.SKIPPED)
        break
    retrying(_finish, job, outcome, failed_step)
    shutil.rmtree(run_root, ignore_errors=True)
    # Each step removes its own private directory; this also takes what a killed worker left.
    shutil.rmtree(scratch_dir(job), ignore_errors=True)


def _fresh_context(cloud_id: int) -> CloudContext:
    return cloud_context(Cloud.objects.select_related("release").get(pk=cloud_id))


def scratch_dir(job: Job) -> Path:
    """Where the job's steps keep their ansible-runner private data directories while they run."""
    return Path(settings.FERRY_SCRATCH_DIR) / f"job-{job.pk}"


def _run_step(
    job: Job, step: Step, backend, context: CloudContext, run_root: Path, control: JobControl
) -> str:
    retrying(_step_started, job, step)
    publish(job.pk, {"kind": "step", "id": step.pk, "position": step.position, "state": StepState.RUNNING})
    extra_vars = step.extra_vars
    if step.action == BACKUP_FETCH:
        # Ferry's own path, not a person's: where the step puts its copy of the backup.
        extra_vars = {**extra_vars, "ferry_backup_dest": str(incoming_dir(job.cloud, job.pk, step.ordinal))}
    spec = backend.step_spec(
        context,
        StepInput(
            action=step.action,
            playbook=step.playbook,
            extra_vars=extra_vars,
            user_vars=step.user_vars,
            limit=step.limit,
            tags=step.tags,
        ),
        run_root / f"step-{step.ordinal}",
    )
    spec.run_dir = scratch_dir(job)
    try:
        result = run_step(
            spec,
            sink=JobEventSink(job, step),
            should_cancel=control.poll,
            # The sink runs in the runner's delivery thread: close that thread's connection after each step.
            on_sink_thread_exit=lambda: connection.close(),
        )
        status, rc = result.status, result.rc
    except Exception as exc:
        log.exception("step %s of job %s failed to run", step.pk, job.pk)
        status, rc = "error", None
        retrying(
            Job.objects.filter(pk=job.pk).update, result=f"Step {step.name!r} could not run: {exc}"[:1000]
        )
    state = {"successful": StepState.SUCCEEDED, "canceled": StepState.CANCELED}.get(status, StepState.FAILED)
    if state == StepState.SUCCEEDED and step.action == BACKUP_FETCH:
        record_fetched_backup(
            job.requested_by,
            job.cloud,
            job=job,
            step=step,
            label=str(step.user_vars.get("ferry_backup_label", "")),
            includes_config=bool(step.extra_vars.get("ferry_backup_config")),
        )
    # The connection may have been cut while the playbook ran: what the step did is recorded anyway.
    retrying(Step.objects.filter(pk=step.pk).update, state=state, rc=rc, finished_at=timezone.now())
    publish(job.pk, {"kind": "step", "id": step.pk, "position": step.position, "state": state, "rc": rc})
    return status


def _restore_config(job: Job, step: Step) -> str:
    """Ferry's own step: set the cloud's configuration back to what a backup archived (no playbook)."""

    def restore() -> str:
        backup = Backup.objects.filter(pk=step.extra_vars.get("ferry_backup_id"), cloud=job.cloud).first()
        if backup is None:
            raise ValidationError({"backup": f"backup #{step.extra_vars.get('ferry_backup_id')} is gone"})
        restore_config(job.requested_by, job.cloud, backup)
        return ""

    return _run_internal(job, step, restore)


def _merge_passwords(job: Job, step: Step) -> str:
    """Ferry's own step: add the passwords a hop's target adds to the cloud's (no playbook); its one
    line of output names the keys generated, or says that nothing lacked."""

    def merge() -> str:
        keys = step.extra_vars.get("ferry_new_passwords") or []
        return merge_passwords(job.requested_by, job.cloud, keys, job_id=job.pk).message

    return _run_internal(job, step, merge)


def _run_internal(job: Job, step: Step, work: Callable[[], str]) -> str:
    """Run one of Ferry's own steps: ``work`` changes what Ferry stores and returns a line for the
    step's output ("" for none); a ValidationError fails the step with its reason as the job's result."""
    retrying(_step_started, job, step)
    publish(job.pk, {"kind": "step", "id": step.pk, "position": step.position, "state": StepState.RUNNING})
    try:
        said = work()
        status, state = "successful", StepState.SUCCEEDED
    except ValidationError as exc:
        status, state, said = "failed", StepState.FAILED, ""
        reason = " ".join(exc.messages)
        retrying(Job.objects.filter(pk=job.pk).update, result=f"Step {step.name!r} failed: {reason}"[:1000])
    if said:
        retrying(_say, job, step, said)
    retrying(
        Step.objects.filter(pk=step.pk).update,
        state=state,
        rc=0 if status == "successful" else 1,
        finished_at=timezone.now(),
    )
    publish(job.pk, {"kind": "step", "id": step.pk, "position": step.position, "state": state})
    return status


def _say(job: Job, step: Step, text: str) -> None:
    """One line of output for a step that runs no playbook, stored and streamed as its events are."""
    JobEventSink(job, step)(
        [
            {
                "uuid": str(uuid.uuid4()),
                "counter": 1,
                "event": "verbose",
                "stdout": text,
                "created": timezone.now().isoformat(),
                "event_data": {},
            }
        ]
    )


def _step_started(job: Job, step: Step) -> None:
    Step.objects.filter(pk=step.pk).update(state=StepState.RUNNING, started_at=timezone.now())
    Job.objects.filter(pk=job.pk).update(current_step=step.position, current_task="")


def _skip(steps: list[Step], state: str) -> None:
    Step.objects.filter(pk__in=[s.pk for s in steps], state=StepState.PENDING).update(state=state)


@transaction.atomic
def _release_reached(job: Job, series: str) -> None:
    """A step that completes a release (deploy, an upgrade hop, a cell rollout's final check) succeeded:
    record the cloud's new release and a hop in its upgrade history."""
    cloud = Cloud.objects.select_for_update(of=("self",)).select_related("release").get(pk=job.cloud_id)
    release = Release.objects.get(series=series)
    previous = cloud.release
    if previous == release:
        return
    cloud.release = release
    cloud.save(update_fields=["release", "updated_at"])
    ReleaseChange.objects.create(cloud=cloud, from_release=previous, to_release=release, job_id=job.pk)
    record(
        job.requested_by,
        "cloud.release_changed",
        cloud,
        detail={"from": previous.series if previous else None, "to": series, "job": job.pk},
    )


def _finish(job: Job, outcome: str, failed_step: Step | None) -> None:
    job.refresh_from_db()
    if job.state not in (JobState.RUNNING, JobState.CANCELING):
        return  # the reaper already decided (lost)
    if outcome == JobState.WAITING:
        if job.state == JobState.RUNNING:
            _wait_at_gate(job, failed_step)
            return
        # Cancel was asked for as the gate step ended: the job stops here rather than waits.
        outcome = JobState.CANCELED
        _skip(list(job.steps.filter(attempt=job.attempt, state=StepState.PENDING)), StepState.CANCELED)
    if outcome == JobState.SUCCEEDED:
        result = f"All {job.steps.filter(attempt=job.attempt).count()} steps succeeded."
    elif outcome == JobState.CANCELED:
        result = (
            "Canceled by an operator; finished steps are kept. Resume to continue from the canceled step."
        )
    elif failed_step:
        failed_step.refresh_from_db()  # its rc was stored with an UPDATE, not on this object
        result = (
            f"Step {failed_step.position} ({failed_step.name}) failed"
            + (f" with rc {failed_step.rc}" if failed_step.rc is not None else "")
            + ". See the failed hosts below; fix the cause, then resume from this step."
        )
    else:
        result = "Failed."
    with transaction.atomic():
        if not transition(job, outcome, finished_at=timezone.now(), result=job.result or result):
            return
        cloud_state = _cloud_state_after(job, outcome)
        if cloud_state:
            Cloud.objects.filter(pk=job.cloud_id).update(state=cloud_state)
        record(job.requested_by, f"job.{outcome}", job, detail={"attempt": job.attempt})
        notify(f"job.{outcome}", job)  # Ferry's notice: the requester hears of it too
    publish_job_state(job)
    flush()  # the job's last messages leave before the task reports done


def _wait_at_gate(job: Job, gate: Step) -> None:
    """The gate step succeeded: the job waits for a person, keeping its cloud locked, no slot held."""
    result = (
        f"Waiting after step {gate.position} ({gate.name}): check the cloud, "
        "then continue or abort the job with a reason."
    )
    with transaction.atomic():
        if not transition(job, JobState.WAITING, worker="", heartbeat_at=None, result=result):
            return
        record(job.requested_by, "job.waiting", job, detail={"step": gate.position, "attempt": job.attempt})
        notify("job.waiting", job)
    publish_job_state(job)
    flush()


def _cloud_state_after(job: Job, outcome: str) -> str | None:
    if not job.mutating:
        return None
    if outcome == JobState.SUCCEEDED and KINDS[job.kind].records_history:
        return CloudState.DEPLOYED
    if outcome == JobState.FAILED and job.cloud.release_id:
        return CloudState.DEGRADED
    if outcome == JobState.CANCELED:
        return cloud_state_after_stop(job)
    return None
