"""Job workflows: launch, queue and start within slots, cancel, resume, gates, reap lost jobs.

Every state change is a conditional UPDATE whose row count is checked, so two
operators (or two workers) acting at once cannot both win. The database, not
Python, keeps a second mutating job off a cloud: see the partial unique
constraint on Job.
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit import context as audit_context
from apps.audit.services import record
from apps.backups.models import Backup
from apps.catalog.models import Release, release_infos
from apps.clouds.models import Cloud, CloudState, ReleaseChange
from apps.clouds.permissions import CloudAction, can
from apps.clouds.services import cloud_inventory, parse_yaml_mapping
from apps.jobs.live import publish_job_state
from apps.jobs.models import (
    ACTIVE_STATES,
    READ_ONLY_KINDS,
    TRANSITIONS,
    Backend,
    Job,
    JobState,
    SlotPool,
    Step,
    StepState,
)
from apps.notifications.services import notify
from apps.windows import services as windows
from runner.params import BackupInfo, ansible_bool
from runner.planner import (
    BACKUP_FETCH,
    KINDS,
    KOLLA_INSTALL,
    MERGE_PASSWORDS,
    VALIDATE,
    PlanError,
    PlannedStep,
    PlanRequest,
    plan_job,
    plan_warnings,
    rollback_problem,
)

log = logging.getLogger(__name__)
MAX_LIMIT = 500  # leaves room for a step's own limit in the 1,000 characters a step stores
MAX_REASON = 500


class TransitionRefused(Exception):
    """A job was not in a state that allows the requested change."""


def plan_request(cloud: Cloud, kind: str, params: dict, backend: str = "") -> PlanRequest:
    """The planner's view of ``cloud``: releases in order, current release, cells and hosts."""
    releases = release_infos()
    cells = list(cloud.cells.order_by("name").values_list("name", "group"))
    cloud_globals = parse_yaml_mapping(cloud.globals_yml, "globals_yml")
    return PlanRequest(
        kind=kind,
        releases=releases,
        current_release=cloud.release.series if cloud.release_id else None,
        cells=[name for name, _ in cells],
        cell_groups=dict(cells),
        params=params,
        hosts=list(cloud.hosts.values_list("name", flat=True)),
        backend=backend,
        mariabackup=ansible_bool(cloud_globals.get("enable_mariabackup")),
        globals=cloud_globals,
        nova_safety_upgrade=ansible_bool(cloud_globals.get("nova_safety_upgrade")),
        backups=[
            backup_info(b)
            for b in Backup.objects.filter(cloud=cloud).select_related("job").order_by("taken_at", "id")
        ],
    )


def backup_info(backup: Backup) -> BackupInfo:
    """The planner's view of a backup (its ``job`` fetched with it)."""
    return BackupInfo(
        id=backup.pk,
        kind=backup.kind,
        state=backup.state,
        name=backup.name,
        release=backup.release,
        label=backup.label,
        taken_at=f"{backup.taken_at:%Y-%m-%d %H:%M} UTC",
        parent_id=backup.parent_id,
        job_kind=backup.job.kind if backup.job_id else "",
        includes_config=backup.includes_config,
        taken=backup.taken_at,
        sha256=backup.sha256,
        node=backup.node,
        store_path=backup.store_path,
    )


def rollback_backups(cloud: Cloud) -> list[Backup]:
    """The backups ``cloud`` can roll back to (the planner's rule): verified, taken by an upgrade,
    fast-forward upgrade or cell rollout before it moved the cloud off an older release."""
    order = list(Release.objects.values_list("series", flat=True))
    current = cloud.release.series if cloud.release_id else None
    candidates = Backup.objects.filter(cloud=cloud, state="verified").select_related("job")
    return [b for b in candidates if rollback_problem(backup_info(b), current, order) is None]


def job_warnings(cloud: Cloud, kind: str, params: dict, backend: str = "") -> list[str]:
    """What a person must know before launching ``kind`` with the cleaned ``params`` (the planner's
    words): the data a restore or rollback loses, and what a rollback leaves newer."""
    request = plan_request(cloud, kind, params, backend)
    return plan_warnings(request, params, timezone.now())


def build_plan(cloud: Cloud, kind: str, params: dict, backend: str = "") -> tuple[dict, list[PlannedStep]]:
    """Check the parameters and plan a job without creating anything.

    Returns the cleaned parameters and the steps; a ValidationError naming the field if the job
    cannot be planned.
    """
    try:
        return plan_job(plan_request(cloud, kind, params, backend))
    except PlanError as exc:
        raise ValidationError({exc.field: exc.message}) from None


def _validate_limit(cloud: Cloud, limit: str) -> str:
    """A limit names cells or hosts of the cloud, comma-separated; anything else is refused."""
    if not limit:
        return ""
    if len(limit) > MAX_LIMIT:
        raise ValidationError({"limit": f"at most {MAX_LIMIT} characters (got {len(limit)}); limit by cells"})
    names = [part.strip() for part in limit.split(",") if part.strip()]
    cells = set(cloud.cells.values_list("name", flat=True)) | set(cloud.cells.values_list("group", flat=True))
    hosts = set(cloud.hosts.filter(name__in=names).values_list("name", flat=True))
    unknown = [n for n in names if n not in cells and n not in hosts]
    if unknown:
        raise ValidationError({"limit": f"not a cell or host of {cloud.slug}: {', '.join(unknown)}"})
    return ",".join(names)


@transaction.atomic
def launch_job(
    actor,
    cloud: Cloud,
    kind: str,
    *,
    params: dict | None = None,
    limit: str = "",
    priority: int = 0,
    backend: str = Backend.LAB,
    confirmed: bool = False,
    reason: str = "",
    wanted_at: datetime | None = None,
    emergency: bool = False,
    emergency_reason: str = "",
) -> Job:
    """Plan a job, store it with its steps and queue it; it starts when a slot and the cloud are free.

    This is the one entry point of every launch (pages, API, commands), and so the one place
    that enforces the launch policy: a mutating kind needs ``confirmed``. On a cloud whose approval
    policy asks for approvers it also needs a ``reason``, and is stored awaiting approval
    (apps.approvals), holding no lock until its approvers release it. Released (at once, or when
    approved), a mutating job starts only inside its cloud's maintenance windows and outside change
    freezes: else it is stored ``scheduled`` for the next opening
    (``apps.windows.services.release_when_open``). An ``emergency`` launch (with a reason, by someone
    who may operate the cloud) starts at once once released, and is audited as such; read-only kinds
    ignore approvals, windows and the flag.
    """
    from apps.approvals import services as approvals  # approvals build on this module

    cloud = Cloud.objects.select_related("release").get(pk=cloud.pk)  # plan against its current release
    if backend not in Backend.values:
        raise ValidationError({"backend": f"unknown backend {backend!r}; one of {', '.join(Backend.values)}"})
    limit = _validate_limit(cloud, limit)
    params, steps = build_plan(cloud, kind, params or {}, backend)
    if kind not in READ_ONLY_KINDS and not confirmed:
        why = f"{kind} changes {cloud.slug}: confirm that you mean it"
        raise ValidationError({"confirm": f'{why} (tick the box to confirm, or send "confirm": true)'})
    mutating = kind not in READ_ONLY_KINDS
    emergency = bool(emergency) and mutating
    needs_approval = approvals.needs_approval(cloud, kind, emergency=emergency)
    reason = approvals.clean_reason(reason, cloud=cloud, required=needs_approval)
    emergency_reason = windows.emergency_reason(actor, cloud, emergency_reason) if emergency else ""
    job = Job.objects.create(
        cloud=cloud,
        kind=kind,
        backend=backend,
        mutating=mutating,
        state=_first_state(mutating, needs_approval),
        priority=priority,
        limit=limit,
        params=params,
        requested_by=actor if actor and actor.is_authenticated else None,
        queued_at=None if mutating else timezone.now(),
        from_release=cloud.release.series if cloud.release_id else "",
        warning="\n".join(job_warnings(cloud, kind, params, backend)),
        request_id=audit_context.current().request_id,
        emergency=emergency,
        emergency_reason=emergency_reason,
    )
    _create_steps(job, _narrowed(cloud, steps, limit), attempt=1, first_ordinal=1)
    detail = {"kind": kind, "params": params, "limit": limit, "steps": len(steps)}
    if reason:
        detail["reason"] = reason
    if emergency:
        detail.update(emergency=True, emergency_reason=emergency_reason)
    record(actor, "job.launch", job, detail=detail)
    if needs_approval:
        # Approved, it goes through release_when_open too (apps.approvals.services.release_approved).
        approvals.request_approval(actor, job, steps, reason=reason, wanted_at=wanted_at)
    elif mutating:
        return windows.release_when_open(job, actor=actor)
    else:
        transaction.on_commit(request_dispatch)
    return job


def replace_plan(job: Job, cloud: Cloud, params: dict, steps: list[PlannedStep]) -> None:
    """Store ``steps`` (planned on ``cloud`` as it is now) as the plan of ``job``, which has not
    started: its old steps go, and what the plan starts from and warns of is that of the new one."""
    job.steps.all().delete()
    _create_steps(job, _narrowed(cloud, steps, job.limit), attempt=job.attempt, first_ordinal=1)
    job.params = params
    job.from_release = cloud.release.series if cloud.release_id else ""
    job.warning = "\n".join(job_warnings(cloud, job.kind, params, job.backend))
    Job.objects.filter(pk=job.pk).update(
        params=job.params, from_release=job.from_release, warning=job.warning
    )


def _first_state(mutating: bool, needs_approval: bool) -> str:
    """Awaiting approval; or pending, for ``release_when_open`` to queue or schedule within the launch's
    transaction; or (read-only) queued."""
    if needs_approval:
        return JobState.AWAITING_APPROVAL
    return JobState.PENDING if mutating else JobState.QUEUED


def _narrowed(cloud: Cloud, steps: list[PlannedStep], limit: str) -> list[PlannedStep]:
    """Each step limited to the job's ``limit`` and its own: the intersection, never the union.

    Ansible reads ``a,b,&g`` as (a or b) and g, so a canary step limited to its cell stays in its
    cell whatever the job's limit names. A step the two leave without any host is refused.
    """
    if not limit:
        return steps
    inventory = cloud_inventory(cloud)
    cells = dict(cloud.cells.values_list("name", "group"))

    def hosts(pattern: str) -> set[str]:
        found: set[str] = set()
        for term in pattern.split(","):
            term = cells.get(term, term)
            found |= inventory.members(term) if term in inventory.groups else {term} & set(inventory.hosts)
        return found

    wanted = hosts(limit)
    narrowed = []
    for step in steps:
        if not step.limit:
            narrowed.append(replace(step, limit=limit))
            continue
        if "," in step.limit or not hosts(step.limit) & wanted:
            why = f"{limit} leaves no host of {step.limit} for the step {step.name!r}"
            raise ValidationError({"limit": f"{why}; limit by cells"})
        narrowed.append(replace(step, limit=f"{limit},&{step.limit}"))
    return narrowed


def _create_steps(
    job: Job,
    steps: list[PlannedStep],
    *,
    attempt: int,
    first_ordinal: int,
    positions: list[int] | None = None,
) -> None:
    """Store ``steps`` as one attempt of ``job``: ordinals count on from ``first_ordinal``, positions
    (the step's place in the plan) are 1, 2, ... unless given."""
    positions = positions or list(range(1, len(steps) + 1))
    Step.objects.bulk_create(
        Step(
            job=job,
            ordinal=first_ordinal + i,
            position=positions[i],
            attempt=attempt,
            name=s.name,
            action=s.action,
            playbook=s.playbook,
            extra_vars=s.extra_vars,
            user_vars=s.user_vars,
            limit=s.limit,
            tags=s.tags,
            completes_release=s.completes_release,
            gate=s.gate,
        )
        for i, s in enumerate(steps)
    )


def transition(job: Job, to: str, **fields) -> bool:
    """Move ``job`` to state ``to`` if it is still in its current state; False if someone else won."""
    if to not in TRANSITIONS[job.state]:
        raise TransitionRefused(f"job #{job.pk} is {job.state}; it cannot become {to}")
    changed = Job.objects.filter(pk=job.pk, state=job.state).update(state=to, **fields)
    if changed:
        job.state = to
        for key, value in fields.items():
            setattr(job, key, value)
    return bool(changed)


def request_dispatch() -> None:
    """Ask a worker to start queued jobs (after the launching transaction commits).

    The job is stored and queued either way: when the broker cannot take the request (Redis down
    or frozen), the periodic dispatch (``ferry.jobs.reap``, also run by beat itself) starts it once
    Redis is back, so the launch still succeeds.
    """
    from apps.jobs.tasks import dispatch_jobs

    try:
        dispatch_jobs.delay()
    except Exception:  # any broker failure: the periodic dispatch will start the job
        log.warning("could not ask a worker to dispatch; queued jobs start at the next sweep", exc_info=True)


def dispatch() -> list[int]:
    """Start queued jobs, highest priority first, while slots are free and their cloud is not busy.

    The slot pool row is locked for the duration, so two dispatchers never
    overfill the slots; the per-cloud constraint keeps a second mutating job
    on a cloud queued until the first one ends.
    """
    started: list[int] = []
    with transaction.atomic():
        SlotPool.objects.select_for_update().get_or_create(name="default")
        free = free_slots()
        if free <= 0:
            return started
        for job in Job.objects.filter(state=JobState.QUEUED).order_by("-priority", "id")[:200]:
            if len(started) >= free:
                break
            try:
                with transaction.atomic():
                    if transition(
                        job, JobState.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
                    ):
                        started.append(job.pk)
            except IntegrityError:
                continue  # its cloud is busy with another mutating job: it stays queued
    return hand_to_workers(started)


def free_slots() -> int:
    """Worker slots no running job holds (call with the slot pool row locked)."""
    return settings.FERRY_JOB_SLOTS - Job.objects.filter(state__in=ACTIVE_STATES).count()


def hand_to_workers(started: list[int]) -> list[int]:
    """Send each job marked running to a worker; the ones the broker cannot take queue again."""
    from apps.jobs.tasks import run_job

    for index, job_id in enumerate(started):
        try:
            run_job.delay(job_id)
        except Exception:  # the broker is down: these jobs never started, so they queue again
            log.warning(
                "could not hand jobs %s to a worker; they stay queued", started[index:], exc_info=True
            )
            requeued = [j for j in started[index:] if requeue_unclaimed(j)]
            return [j for j in started if j not in requeued]
    return started


def requeue_unclaimed(job_id: int) -> bool:
    """Put a job that was started but that no worker took back in the queue; False if one took it.

    ``dispatch`` marks a job running before its task reaches a worker, which claims it by writing
    its name (see ``claim_job``). Until then nothing ran, so the job is queued, never lost; one
    canceled meanwhile is canceled.
    """
    unclaimed = Job.objects.filter(pk=job_id, worker="")
    with transaction.atomic():
        if unclaimed.filter(state=JobState.CANCELING).update(
            state=JobState.CANCELED, finished_at=timezone.now(), result="Canceled before it started."
        ):
            Step.objects.filter(job_id=job_id, state=StepState.PENDING).update(state=StepState.SKIPPED)
            record(
                None, "job.canceled_unstarted", Job.objects.get(pk=job_id), detail={"worker": "none took it"}
            )
            return True
        if unclaimed.filter(state=JobState.RUNNING).update(
            state=JobState.QUEUED, started_at=None, heartbeat_at=None
        ):
            record(None, "job.requeued", Job.objects.get(pk=job_id), detail={"reason": "no worker took it"})
            return True
    return False


def claim_job(job_id: int, worker: str) -> bool:
    """Take a running job for ``worker``; False if another worker took it or it was queued again."""
    return bool(
        Job.objects.filter(pk=job_id, state__in=ACTIVE_STATES, worker="").update(
            worker=worker, heartbeat_at=timezone.now()
        )
    )


@transaction.atomic
def cancel_job(actor, job: Job) -> Job:
    """Cancel a scheduled or queued job at once (or withdraw one awaiting approval), or ask a running
    job's worker to stop it (within 2 s)."""
    from apps.approvals.services import withdraw_request

    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state in (JobState.QUEUED, JobState.SCHEDULED, JobState.AWAITING_APPROVAL):
        awaiting = job.state == JobState.AWAITING_APPROVAL
        transition(
            job,
            JobState.CANCELED,
            finished_at=timezone.now(),
            cancel_requested=True,
            result="Withdrawn before it was approved." if awaiting else "Canceled before it started.",
        )
        job.steps.filter(state=StepState.PENDING).update(state=StepState.SKIPPED)
        if awaiting:
            withdraw_request(job)
        # A withdrawn request also leaves the approvers' queue: they are told.
        notify("job.canceled", job, actor=actor, detail={"withdrawn": True} if awaiting else None)
        transaction.on_commit(partial(publish_job_state, job))
    elif job.state == JobState.RUNNING:
        transition(job, JobState.CANCELING, cancel_requested=True)
    elif job.state == JobState.WAITING:
        raise ValidationError({"state": f"job #{job.pk} waits at a gate: abort it, with a reason"})
    else:
        raise ValidationError(
            {
                "state": f"job #{job.pk} is {job.get_state_display()}; "
                "only queued or running jobs can be canceled (or scheduled ones, or withdrawn while "
                "awaiting approval)"
            }
        )
    record(actor, "job.cancel", job, detail={"state": job.state})
    return job


@transaction.atomic
def resume_job(actor, job: Job, *, confirmed: bool = False) -> Job:
    """Queue a failed, lost or canceled job again from the step that did not finish (scheduled for
    the next opening instead when it is mutating and its cloud is outside its maintenance windows).

    Finished steps and every event of the earlier attempt are kept; the remaining steps are copied
    into a new attempt, once they are checked to be what the job's plan would still be. A mutating
    job needs ``confirmed`` again, as at launch.
    """
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.mutating and not confirmed:
        why = f"resuming {job.kind} changes {job.cloud.slug} again: confirm that you mean it"
        raise ValidationError({"confirm": f'{why} (tick the box to confirm, or send "confirm": true)'})
    if job.state not in (JobState.FAILED, JobState.LOST, JobState.CANCELED):
        raise ValidationError(
            {
                "state": f"job #{job.pk} is {job.get_state_display()}; "
                "only failed, lost or canceled jobs resume"
            }
        )
    from apps.approvals.services import refuse_unapproved

    refuse_unapproved(job)
    steps = list(job.steps.filter(attempt=job.attempt).order_by("position"))
    remaining = [s for s in steps if s.state != StepState.SUCCEEDED]
    if not remaining:
        raise ValidationError({"state": f"every step of job #{job.pk} succeeded; nothing to resume"})
    _refuse_stale(job, remaining, "resume", "plan a new job")
    last_ordinal = job.steps.order_by("-ordinal").values_list("ordinal", flat=True).first() or 0
    attempt = job.attempt + 1
    # Every field of a planned step is stored on the step under its own name; a stored step's limit
    # already includes the job's, so none is added again.
    planned = [PlannedStep(**{f.name: getattr(s, f.name) for f in fields(PlannedStep)}) for s in remaining]
    _create_steps(
        job,
        planned,
        attempt=attempt,
        first_ordinal=last_ordinal + 1,
        positions=[s.position for s in remaining],
    )
    transition(
        job,
        JobState.QUEUED,
        attempt=attempt,
        queued_at=timezone.now(),
        finished_at=None,
        cancel_requested=False,
        result="",
        worker="",
        request_id=audit_context.current().request_id,
    )
    record(actor, "job.resume", job, detail={"attempt": attempt, "from_step": remaining[0].name})
    # A mutating job resumed outside its cloud's windows waits for the next opening, as at launch.
    return windows.release_when_open(job, actor=actor)


def _refuse_stale(job: Job, remaining: list[Step], verb: str, advice: str) -> None:
    """A 400 when the job's ``remaining`` steps are no longer its plan (see ``stale_plan_reason``)."""
    stale = stale_plan_reason(job, remaining)
    if stale:
        raise ValidationError({"state": f"job #{job.pk} cannot {verb}: {stale}; {advice}"})


def _gate_reason(reason: object) -> str:
    """The reason a person gave for continuing or aborting: required, at most ``MAX_REASON`` long."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError({"reason": "required: say why (it goes into the job and the audit trail)"})
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters (got {len(text)})"})
    return text


def _waiting_job(actor, job: Job, verb: str) -> Job:
    """``job`` locked for update, once ``actor`` may operate its cloud and it waits at a gate."""
    if not can(actor, CloudAction.OPERATE, job.cloud):
        raise PermissionDenied(f"You need the operator role to {verb} job #{job.pk}.")
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state != JobState.WAITING:
        raise ValidationError(
            {"state": f"job #{job.pk} is {job.get_state_display()}, not waiting at a gate; nothing to {verb}"}
        )
    return job


@transaction.atomic
def continue_job(actor, job: Job, *, reason: str) -> Job:
    """Let a job waiting at a gate run its remaining steps; ``reason`` goes into the audit entry.

    The remaining steps are checked against the plan as on resume. The job goes from waiting
    straight to running (never through the queue), so its cloud's lock does not lapse for another
    mutating job to take; that needs a free worker slot, else it is refused and the job keeps waiting.
    """
    from apps.approvals.services import check_gate_approver

    reason = _gate_reason(reason)
    check_gate_approver(actor, job)
    job = _waiting_job(actor, job, "continue")
    remaining = list(job.steps.filter(attempt=job.attempt, state=StepState.PENDING).order_by("position"))
    _refuse_stale(job, remaining, "continue", "abort it and plan a new job")
    SlotPool.objects.select_for_update().get_or_create(name="default")
    if free_slots() <= 0:
        raise ValidationError(
            {
                "state": f"every worker slot is busy; job #{job.pk} keeps waiting (and its cloud locked): "
                "continue it once a slot frees"
            }
        )
    now = timezone.now()
    transition(job, JobState.RUNNING, heartbeat_at=now, worker="", result="", cancel_requested=False)
    record(
        actor,
        "job.continue",
        job,
        detail={"reason": reason, "from_step": remaining[0].name if remaining else None},
    )
    transaction.on_commit(partial(publish_job_state, job))
    transaction.on_commit(partial(hand_to_workers, [job.pk]))
    return job


# Actions that read the cloud, or only stage what a later step applies: stopping a job after only
# these leaves the cloud as it was (cloud_state_after_stop). A hop's kolla-ansible install and
# password merge are staging: the merge adds keys to Ferry's record of the passwords and changes no
# value, and the running services read neither until the upgrade.
LEAVES_CLOUD_AS_IT_WAS = frozenset(
    {
        "prechecks",
        "check",
        "pull",
        "genconfig",
        "validate-config",
        "mariadb-backup",
        BACKUP_FETCH,
        VALIDATE,
        KOLLA_INSTALL,
        MERGE_PASSWORDS,
    }
)


def cloud_state_after_stop(job: Job) -> str | None:
    """The cloud's state once a release-moving job was canceled or aborted part way.

    Its cloud was marked upgrading when it started. If no step that changes the cloud ever
    started, the cloud is as it was (deployed); otherwise it is somewhere between two releases and
    needs a person's look (degraded). None for a job that never marked its cloud.
    """
    if not job.mutating or not KINDS[job.kind].moves_release:
        return None
    started = job.steps.filter(started_at__isnull=False).exclude(action__in=LEAVES_CLOUD_AS_IT_WAS)
    return CloudState.DEGRADED if started.exists() else CloudState.DEPLOYED


@transaction.atomic
def abort_job(actor, job: Job, *, reason: str) -> Job:
    """End a job waiting at a gate as canceled, with ``reason``; its cloud's lock is released.

    Its remaining steps are marked canceled, so a person can still resume it later.
    """
    reason = _gate_reason(reason)
    job = _waiting_job(actor, job, "abort")
    who = getattr(actor, "username", "") or "ferry"
    transition(
        job,
        JobState.CANCELED,
        finished_at=timezone.now(),
        cancel_requested=True,
        result=f"Aborted at a gate by {who}: {reason}"[:1000],
    )
    job.steps.filter(attempt=job.attempt, state=StepState.PENDING).update(state=StepState.CANCELED)
    cloud_state = cloud_state_after_stop(job)
    if cloud_state:
        Cloud.objects.filter(pk=job.cloud_id).update(state=cloud_state)
    record(actor, "job.abort", job, detail={"reason": reason})
    notify("job.canceled", job, actor=actor)
    transaction.on_commit(partial(publish_job_state, job))
    return job


def stale_plan_reason(job: Job, remaining: list[Step]) -> str:
    """Why ``remaining`` steps of ``job`` are no longer what its plan would be today; "" if they are.

    The cloud must run the release the job left it at (the one it was planned from, or the last one
    a step of the job reached), and planning the job again from that release must give the same
    steps at the same places: same action, variables and tags. A job planned before Ferry kept its
    starting release is not checked.
    """
    if job.from_release is None:
        return ""
    cloud = Cloud.objects.select_related("release").get(pk=job.cloud_id)
    reached = (
        ReleaseChange.objects.filter(job=job)
        .order_by("-id")
        .values_list("to_release__series", flat=True)
        .first()
    )
    expected = reached or job.from_release
    runs = cloud.release.series if cloud.release_id else ""
    if runs != expected:
        return f"the cloud runs {runs or 'no release'}, where this job expects {expected or 'no release'}"
    request = plan_request(cloud, job.kind, job.params, job.backend)
    try:
        _, planned = plan_job(replace(request, current_release=job.from_release or None))
    except PlanError as exc:
        return f"{exc.field}: {exc.message}"
    for step in remaining:
        want = planned[step.position - 1] if step.position <= len(planned) else None
        if want is None or (want.action, want.extra_vars, want.user_vars, want.tags) != (
            step.action,
            step.extra_vars,
            step.user_vars,
            step.tags,
        ):
            return f"its step {step.position} ({step.name}) is no longer in its plan"
    return ""


def reap_lost_jobs(now=None) -> list[int]:
    """Mark running jobs whose worker has gone silent as lost, keeping their finished steps.

    A job no worker ever claimed (its task was lost with Redis, or waited too long) did not
    start: it goes back to the queue instead, and a task for it that arrives late finds it unclaimable.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FERRY_HEARTBEAT_TIMEOUT)
    lost = []
    quiet = Job.objects.filter(state__in=ACTIVE_STATES, heartbeat_at__lt=cutoff)
    requeued = [pk for pk in quiet.filter(worker="").values_list("pk", flat=True) if requeue_unclaimed(pk)]
    if requeued:
        log.warning("no worker took jobs %s; queued again", requeued)
    for job in quiet.exclude(worker=""):
        with transaction.atomic():
            silent = (now - job.heartbeat_at).total_seconds()
            if transition(
                job,
                JobState.LOST,
                finished_at=now,
                result=f"The worker {job.worker or '(unknown)'} went silent for {silent:.0f} s; "
                "finished steps are kept: resume the job to continue.",
            ):
                job.steps.filter(state=StepState.RUNNING).update(state=StepState.LOST, finished_at=now)
                job.steps.filter(state=StepState.PENDING).update(state=StepState.SKIPPED)
                record(None, "job.lost", job, detail={"silent_seconds": round(silent)})
                notify("job.lost", job)
                log.info("marked job %s lost: worker %s silent for %.0f s", job.pk, job.worker or "?", silent)
                transaction.on_commit(partial(publish_job_state, job))
                lost.append(job.pk)
    if lost or requeued:
        transaction.on_commit(request_dispatch)
    return lost


def bump_heartbeat(job_id: int) -> bool:
    """Record that the worker of ``job_id`` is alive; False if it should stop.

    It should stop when the job is no longer active (the reaper declared it lost) or an operator
    asked to cancel it. One statement: the worker calls this twice a second for as long as it runs.
    """
    states = ", ".join(["%s"] * len(ACTIVE_STATES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} SET heartbeat_at = %s WHERE id = %s AND state IN ({states}) "
            "RETURNING cancel_requested",
            [timezone.now(), job_id, *ACTIVE_STATES],
        )
        row = cursor.fetchone()
    return row is not None and not row[0]
