"""Job workflows: launch, queue and start within slots, cancel, resume, reap lost jobs.

Every state change is a conditional UPDATE whose row count is checked, so two
operators (or two workers) acting at once cannot both win. The database, not
Python, keeps a second mutating job off a cloud: see the partial unique
constraint on Job.
"""

from __future__ import annotations

import logging
from dataclasses import fields, replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.backups.models import Backup
from apps.catalog.models import Release
from apps.clouds.models import Cloud, ReleaseChange
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
from runner.params import BackupInfo, ansible_bool
from runner.planner import PlanError, PlannedStep, PlanRequest, ReleaseInfo, plan_job

log = logging.getLogger(__name__)
MAX_LIMIT = 500  # leaves room for a step's own limit in the 1,000 characters a step stores


class TransitionRefused(Exception):
    """A job was not in a state that allows the requested change."""


def plan_request(cloud: Cloud, kind: str, params: dict, backend: str = "") -> PlanRequest:
    """The planner's view of ``cloud``: releases in order, current release, cells and hosts."""
    releases = [ReleaseInfo(series=s, slurp=f) for s, f in Release.objects.values_list("series", "slurp")]
    cells = list(cloud.cells.order_by("name").values_list("name", "group"))
    return PlanRequest(
        kind=kind,
        releases=releases,
        current_release=cloud.release.series if cloud.release_id else None,
        cells=[name for name, _ in cells],
        cell_groups=dict(cells),
        params=params,
        hosts=list(cloud.hosts.values_list("name", flat=True)),
        backend=backend,
        mariabackup=ansible_bool(
            parse_yaml_mapping(cloud.globals_yml, "globals_yml").get("enable_mariabackup")
        ),
        backups=[
            BackupInfo(
                id=b.pk,
                kind=b.kind,
                state=b.state,
                name=b.name,
                release=b.release,
                label=b.label,
                taken_at=f"{b.taken_at:%Y-%m-%d %H:%M} UTC",
                parent_id=b.parent_id,
                sha256=b.sha256,
                node=b.node,
                store_path=b.store_path,
            )
            for b in Backup.objects.filter(cloud=cloud).order_by("taken_at", "id")
        ],
    )


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
) -> Job:
    """Plan a job, store it with its steps and queue it; it starts when a slot and the cloud are free.

    This is the one entry point of every launch (pages, API, commands), and so the one place
    that enforces the launch policy: a mutating kind needs ``confirmed``.
    """
    cloud = Cloud.objects.select_related("release").get(pk=cloud.pk)  # plan against its current release
    if backend not in Backend.values:
        raise ValidationError({"backend": f"unknown backend {backend!r}; one of {', '.join(Backend.values)}"})
    limit = _validate_limit(cloud, limit)
    params, steps = build_plan(cloud, kind, params or {}, backend)
    if kind not in READ_ONLY_KINDS and not confirmed:
        why = f"{kind} changes {cloud.slug}: confirm that you mean it"
        raise ValidationError({"confirm": f'{why} (tick the box to confirm, or send "confirm": true)'})
    job = Job.objects.create(
        cloud=cloud,
        kind=kind,
        backend=backend,
        mutating=kind not in READ_ONLY_KINDS,
        state=JobState.QUEUED,
        priority=priority,
        limit=limit,
        params=params,
        requested_by=actor if actor and actor.is_authenticated else None,
        queued_at=timezone.now(),
        from_release=cloud.release.series if cloud.release_id else "",
    )
    _create_steps(job, _narrowed(cloud, steps, limit), attempt=1, first_ordinal=1)
    record(
        actor, "job.launch", job, detail={"kind": kind, "params": params, "limit": limit, "steps": len(steps)}
    )
    transaction.on_commit(request_dispatch)
    return job


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
        free = settings.FERRY_JOB_SLOTS - Job.objects.filter(state__in=ACTIVE_STATES).count()
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
    if unclaimed.filter(state=JobState.CANCELING).update(
        state=JobState.CANCELED, finished_at=timezone.now(), result="Canceled before it started."
    ):
        Step.objects.filter(job_id=job_id, state=StepState.PENDING).update(state=StepState.SKIPPED)
        return True
    return bool(
        unclaimed.filter(state=JobState.RUNNING).update(
            state=JobState.QUEUED, started_at=None, heartbeat_at=None
        )
    )


def claim_job(job_id: int, worker: str) -> bool:
    """Take a running job for ``worker``; False if another worker took it or it was queued again."""
    return bool(
        Job.objects.filter(pk=job_id, state__in=ACTIVE_STATES, worker="").update(
            worker=worker, heartbeat_at=timezone.now()
        )
    )


@transaction.atomic
def cancel_job(actor, job: Job) -> Job:
    """Cancel a queued job at once, or ask a running job's worker to stop it (within 2 s)."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state == JobState.QUEUED:
        transition(
            job,
            JobState.CANCELED,
            finished_at=timezone.now(),
            cancel_requested=True,
            result="Canceled before it started.",
        )
        job.steps.filter(state=StepState.PENDING).update(state=StepState.SKIPPED)
        transaction.on_commit(partial(publish_job_state, job))
    elif job.state == JobState.RUNNING:
        transition(job, JobState.CANCELING, cancel_requested=True)
    else:
        raise ValidationError(
            {
                "state": f"job #{job.pk} is {job.get_state_display()}; "
                "only queued or running jobs can be canceled"
            }
        )
    record(actor, "job.cancel", job, detail={"state": job.state})
    return job


@transaction.atomic
def resume_job(actor, job: Job, *, confirmed: bool = False) -> Job:
    """Queue a failed, lost or canceled job again from the step that did not finish.

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
    steps = list(job.steps.filter(attempt=job.attempt).order_by("position"))
    remaining = [s for s in steps if s.state != StepState.SUCCEEDED]
    if not remaining:
        raise ValidationError({"state": f"every step of job #{job.pk} succeeded; nothing to resume"})
    stale = stale_plan_reason(job, remaining)
    if stale:
        raise ValidationError({"state": f"job #{job.pk} cannot resume: {stale}; plan a new job"})
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
    )
    record(actor, "job.resume", job, detail={"attempt": attempt, "from_step": remaining[0].name})
    transaction.on_commit(request_dispatch)
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
