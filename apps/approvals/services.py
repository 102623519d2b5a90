"""Change control for mutating jobs: policies, requests, approvals, denials, lapses and expiry.

``apps.jobs.services.launch_job`` asks :func:`needs_approval` and, when a cloud's policy asks for
approvers, stores the job ``awaiting_approval`` and calls :func:`request_approval`. Approvers approve
or deny it; the approval that reaches the policy's number queues it through
:func:`release_approved`, the one point where an approved job leaves ``awaiting_approval``. Every
approval is bound to the hash of the plan it approved: when the cloud changes so the plan's hash
differs (checked when approving, when releasing and when the worker starts the job) the approvals
lapse and the new plan awaits approval. Every state change locks the job's row or is a
conditional UPDATE whose row count is checked, with its audit entry in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.roles import Role, roles_of
from apps.approvals.models import Approval, ApprovalPolicy, ApprovalRequest, RequestState
from apps.audit.services import record
from apps.clouds.models import Cloud, CloudMembership
from apps.clouds.permissions import CloudAction, can
from apps.jobs.live import publish_job_state
from apps.jobs.models import READ_ONLY_KINDS, Job, JobState, StepState
from apps.jobs.preview import steps_hash
from apps.jobs.services import (
    MAX_REASON,
    TransitionRefused,
    build_plan,
    replace_plan,
    transition,
)
from apps.notifications.services import notify
from apps.windows.services import release_when_open
from runner.planner import PlannedStep

log = logging.getLogger(__name__)
POLICY_FIELDS = (
    "approvals_required",
    "request_ttl_hours",
    "gates_need_approver",
    "emergency_allowed",
    "emergency_approvals",
)
EXPIRE_BATCH = 200  # requests one sweep expires; the next sweep takes the rest


# --- policy -------------------------------------------------------------------------------------
def default_policy(cloud: Cloud) -> ApprovalPolicy:
    """The policy of a cloud without one of its own (unsaved): the settings' defaults."""
    return ApprovalPolicy(
        cloud=cloud,
        approvals_required=settings.FERRY_APPROVALS_REQUIRED,
        request_ttl_hours=settings.FERRY_APPROVAL_TTL_HOURS,
    )


def policy_for(cloud: Cloud) -> ApprovalPolicy:
    """The cloud's policy: its own row, else the settings' defaults."""
    return ApprovalPolicy.objects.filter(cloud=cloud).first() or default_policy(cloud)


def asked_by(policy: ApprovalPolicy, *, emergency: bool = False) -> int:
    """How many approvers ``policy`` asks of a new job (0: none): an emergency's own number, if the
    policy sets one, else the number every mutating job needs."""
    if emergency and policy.emergency_approvals is not None:
        return policy.emergency_approvals
    return policy.approvals_required


def required_by(policy: ApprovalPolicy, *, emergency: bool = False) -> int:
    """How many live approvals release a job under ``policy``: at least one (a request made while the
    policy asked for approvers is not released by lowering it to 0)."""
    return max(asked_by(policy, emergency=emergency), 1)


def policy_values(policy: ApprovalPolicy) -> dict[str, Any]:
    """The policy's rules as the audit trail and the API show them."""
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


@transaction.atomic
def update_policy(actor, cloud: Cloud, changes: dict[str, Any]) -> ApprovalPolicy:
    """Change ``cloud``'s approval rules (its admins only); audited with before and after.

    The first change stores the cloud's own policy, which from then on no longer follows the
    settings' defaults. Pending requests keep the expiry time they were given.
    """
    if not can(actor, CloudAction.ADMINISTER, cloud):
        raise PermissionDenied(f"You need the admin role on {cloud.slug} to change its approval policy.")
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError({name: "unknown field" for name in unknown})
    stored = ApprovalPolicy.objects.select_for_update().filter(cloud=cloud).first()
    policy = stored or policy_for(cloud)
    before = policy_values(policy)
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.full_clean(exclude=["cloud", "updated_by"])
    after = policy_values(policy)
    if stored is not None and before == after:
        return policy
    policy.updated_by = actor if actor is not None and actor.is_authenticated else None
    policy.save()
    record(actor, "cloud.approval_policy_changed", cloud, detail={"before": before, "after": after})
    return policy


def needs_approval(cloud: Cloud, kind: str, *, emergency: bool = False) -> bool:
    """Whether launching ``kind`` on ``cloud`` waits for approvers: mutating kinds, when the cloud's
    policy asks for at least one (for an emergency, its own number if it sets one).

    An emergency on a cloud whose policy allows none is refused, naming ``emergency``.
    """
    if kind in READ_ONLY_KINDS:
        return False
    policy = policy_for(cloud)
    if emergency and not policy.emergency_allowed:
        raise ValidationError(
            {
                "emergency": f"{cloud.slug}'s change-control policy allows no emergency launch: "
                "launch it for the next maintenance window, or ask its admins"
            }
        )
    return asked_by(policy, emergency=emergency) > 0


def clean_reason(reason: object, *, cloud: Cloud, required: bool) -> str:
    """The requester's reason, stripped; required when the job needs approval."""
    text = reason.strip() if isinstance(reason, str) else ""
    if required and not text:
        raise ValidationError(
            {
                "reason": f"required: mutating jobs on {cloud.slug} need approval; "
                "say why you want this one (the approvers read it)"
            }
        )
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters (got {len(text)})"})
    return text


# --- requests -----------------------------------------------------------------------------------
def request_approval(
    actor, job: Job, steps: list[PlannedStep], *, reason: str, wanted_at: datetime | None = None
) -> ApprovalRequest:
    """Ask for approval of ``job`` (just stored awaiting approval with its plan ``steps``); call it in
    the launching transaction. The request expires after the policy's time."""
    policy = policy_for(job.cloud)
    now = timezone.now()
    request = ApprovalRequest.objects.create(
        job=job,
        reason=reason,
        wanted_at=wanted_at,
        plan_hash=steps_hash(job.cloud, steps),
        requested_at=now,
        expires_at=now + timedelta(hours=policy.request_ttl_hours),
    )
    detail = {
        "reason": reason,
        "plan_hash": request.plan_hash,
        "approvals_required": policy.approvals_required,
        "expires_at": request.expires_at,
        "wanted_at": wanted_at,
    }
    record(actor, "job.approval_requested", job, detail=detail)
    notify("job.approval_requested", job, actor=actor, detail=detail)
    return request


def approvals_needed(job: Job) -> int:
    """How many live approvals queue ``job``: what its cloud's policy asks for now (``required_by``)."""
    return required_by(policy_for(job.cloud), emergency=job.emergency)


def live_approvals(job: Job) -> QuerySet[Approval]:
    """The approvals of ``job``'s current plan (not lapsed)."""
    return Approval.objects.filter(job=job, lapsed_at__isnull=True)


SELF_APPROVAL = "No one approves a job they asked for themselves: another approver must approve job #{pk}."


def approval_refusal(user, job: Job) -> str:
    """Why ``user`` may not approve ``job``; "" when they may (the one rule, for pages and services)."""
    if not can(user, CloudAction.APPROVE, job.cloud):
        return f"You need the approver role on {job.cloud.slug} to approve or deny job #{job.pk}."
    if job.requested_by_id is not None and job.requested_by_id == user.pk:
        return SELF_APPROVAL.format(pk=job.pk)
    return ""


def _require_approver(actor, job: Job) -> None:
    if not can(actor, CloudAction.APPROVE, job.cloud):
        raise PermissionDenied(
            f"You need the approver role on {job.cloud.slug} to approve or deny job #{job.pk}."
        )


def _locked_awaiting(job: Job, verb: str) -> tuple[Job, ApprovalRequest]:
    """``job`` with its row locked, and its request, once it awaits approval."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.state != JobState.AWAITING_APPROVAL:
        raise ValidationError(
            {"state": f"job #{job.pk} is {job.get_state_display()}, not awaiting approval; nothing to {verb}"}
        )
    return job, ApprovalRequest.objects.get(job=job)


@dataclass
class ApprovalOutcome:
    """What one approval did: counted or not (the plan changed under it), and whether it released the
    job (queued it, or scheduled it for its cloud's next maintenance window)."""

    job: Job
    counted: bool
    released: bool
    approvals: int
    required: int
    message: str


@transaction.atomic
def approve_job(actor, job: Job, *, reason: str = "", plan_hash: str = "") -> ApprovalOutcome:
    """Approve ``job``'s plan as ``actor`` (an approver of its cloud, never its requester).

    ``plan_hash``, when given, is the hash the approver read: another one is refused. The plan is
    planned again first: if its hash changed, the earlier approvals lapse, the new plan replaces
    the stored one and this approval does not count (the approver has not read it). The approval
    that reaches the policy's number releases the job (queued, or scheduled for its window) in the
    same transaction; the job's row is locked throughout, so two approvers at once count one after
    the other and release it once.
    """
    _require_approver(actor, job)
    if job.requested_by_id is not None and job.requested_by_id == actor.pk:
        raise PermissionDenied(SELF_APPROVAL.format(pk=job.pk))
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters (got {len(reason)})"})
    job, request = _locked_awaiting(job, "approve")
    if plan_hash and plan_hash != request.plan_hash:
        raise ValidationError(
            {
                "plan_hash": f"job #{job.pk}'s plan is now {request.plan_hash[:12]}, not the "
                f"{plan_hash[:12]} you read: read the plan again before approving it"
            }
        )
    required = approvals_needed(job)
    if _lapse_if_changed(actor, job, request):
        count = live_approvals(job).count()
        return ApprovalOutcome(
            job, counted=False, released=False, approvals=count, required=required, message=job.result
        )
    if live_approvals(job).filter(approver=actor).exists():
        raise ValidationError({"state": f"you already approved job #{job.pk}; each approver counts once"})
    Approval.objects.create(job=job, approver=actor, plan_hash=request.plan_hash, reason=reason)
    count = live_approvals(job).count()
    released = count >= required and release_approved(job, actor)
    detail = {
        "reason": reason,
        "plan_hash": request.plan_hash,
        "approvals": count,
        "required": required,
        "released": released,
    }
    record(actor, "job.approved", job, detail=detail)
    notify("job.approved", job, actor=actor, detail=detail)
    if released and job.state == JobState.SCHEDULED:
        when = f"{job.scheduled_for:%Y-%m-%d %H:%M} UTC" if job.scheduled_for else "when a window opens"
        message = (
            f"Job #{job.pk} approved ({count} of {required}) and scheduled for {when}: {job.scheduled_reason}"
        )
    elif released:
        message = f"Job #{job.pk} approved ({count} of {required}) and queued."
    else:
        message = f"Job #{job.pk} approved: {count} of {required} approvals."
    return ApprovalOutcome(
        job, counted=True, released=released, approvals=count, required=required, message=message
    )


def release_approved(job: Job, actor=None) -> bool:
    """Release ``job`` (its row locked, awaiting approval, with enough approvals) once its plan still
    holds: queued inside its cloud's window, else scheduled for the next opening. False if the plan
    changed (its approvals lapsed and it keeps awaiting approval).

    This is the one place an approved job leaves ``awaiting_approval``: a job only runs on the
    plan it was approved for.
    """
    request = ApprovalRequest.objects.get(job=job)
    if _lapse_if_changed(actor, job, request):
        return False
    now = timezone.now()
    if job.state != JobState.AWAITING_APPROVAL:
        raise TransitionRefused(f"job #{job.pk} was no longer awaiting approval")
    Job.objects.filter(pk=job.pk).update(result="")  # a lapse's explanation no longer holds
    job.result = ""
    ApprovalRequest.objects.filter(pk=request.pk).update(state=RequestState.APPROVED, decided_at=now)
    # Queued (and handed to a worker once committed) inside a window, else scheduled for the next one.
    release_when_open(job, actor=actor, now=now)
    transaction.on_commit(partial(publish_job_state, job))
    return True


@transaction.atomic
def deny_job(actor, job: Job, *, reason: str) -> Job:
    """Refuse ``job`` as an approver of its cloud, with a reason: it ends denied and nothing runs."""
    _require_approver(actor, job)
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError({"reason": "required: say why you deny it (the requester reads it)"})
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": f"at most {MAX_REASON} characters (got {len(text)})"})
    job, request = _locked_awaiting(job, "deny")
    now = timezone.now()
    who = actor.get_username() if actor is not None and actor.is_authenticated else "ferry"
    transition(job, JobState.DENIED, finished_at=now, result=f"Denied by {who}: {text}"[:1000])
    job.steps.filter(state=StepState.PENDING).update(state=StepState.SKIPPED)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        state=RequestState.DENIED,
        decided_at=now,
        decided_by=actor if actor is not None and actor.is_authenticated else None,
        decision=text,
    )
    record(actor, "job.denied", job, detail={"reason": text, "plan_hash": request.plan_hash})
    notify("job.denied", job, actor=actor, detail={"reason": text})
    transaction.on_commit(partial(publish_job_state, job))
    return job


def withdraw_request(job: Job) -> None:
    """Close the request of ``job``, canceled while it awaited approval (``cancel_job`` audits it)."""
    ApprovalRequest.objects.filter(job=job, state=RequestState.PENDING).update(
        state=RequestState.WITHDRAWN, decided_at=timezone.now()
    )


def refuse_unapproved(job: Job) -> None:
    """A 400 for resuming a job whose request was never approved (withdrawn before approval):
    resuming must not get round the approvers."""
    state = ApprovalRequest.objects.filter(job=job).values_list("state", flat=True).first()
    if state is not None and state != RequestState.APPROVED:
        raise ValidationError(
            {"state": f"job #{job.pk} was never approved (its request was {state}): launch it again"}
        )


def check_gate_approver(actor, job: Job) -> None:
    """A 403 when ``job``'s cloud's policy asks for the approver role to continue at a gate and
    ``actor`` lacks it."""
    if policy_for(job.cloud).gates_need_approver and not can(actor, CloudAction.APPROVE, job.cloud):
        raise PermissionDenied(
            f"{job.cloud.slug}'s approval policy asks for the approver role to continue a job at a gate."
        )


# --- the plan an approval is bound to -------------------------------------------------------------
def current_plan(job: Job) -> tuple[Cloud, dict, list[PlannedStep], str]:
    """``job`` planned again on its cloud as it is now: (cloud, cleaned params, steps, hash).

    A ValidationError naming the field if it cannot be planned any more.
    """
    cloud = Cloud.objects.select_related("release").get(pk=job.cloud_id)
    params, steps = build_plan(cloud, job.kind, job.params, job.backend)
    return cloud, params, steps, steps_hash(cloud, steps)


def _what_changed(job: Job, steps: list[PlannedStep]) -> str:
    stored = list(job.steps.filter(attempt=job.attempt).order_by("position"))

    def shape(items) -> list[tuple]:
        return [(s.action, s.extra_vars, s.user_vars, s.tags, s.gate) for s in items]

    if shape(stored) == shape(steps):
        return "the cloud's inventory, globals or configuration files changed"
    return f"its steps changed ({len(stored)} planned before, {len(steps)} now)"


def _lapse_if_changed(actor, job: Job, request: ApprovalRequest) -> bool:
    """Plan ``job`` (row locked) again; if the hash differs from the one awaiting approval, lapse its
    approvals, store the new plan and hash, say why in ``job.result`` and return True.

    A job the worker had started (running, nothing run yet) goes back to awaiting approval, with a
    fresh time to expire.
    """
    try:
        cloud, params, steps, digest = current_plan(job)
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise ValidationError(
            {"state": f"job #{job.pk} cannot be planned any more ({field}: {' '.join(errors)}); deny it"}
        ) from None
    if digest == request.plan_hash:
        return False
    now = timezone.now()
    why = _what_changed(job, steps)
    lapsed = live_approvals(job).update(lapsed_at=now)
    replace_plan(job, cloud, params, steps)
    old = request.plan_hash
    request.plan_hash = digest
    update = {"plan_hash": digest}
    if job.state == JobState.RUNNING:
        policy = policy_for(cloud)
        update.update(
            state=RequestState.PENDING,
            decided_at=None,
            expires_at=now + timedelta(hours=policy.request_ttl_hours),
        )
    ApprovalRequest.objects.filter(pk=request.pk).update(**update)
    since = "approved" if lapsed else "requested"
    message = (
        f"The plan changed since it was {since}: {why}. {lapsed} approval(s) lapsed; "
        f"the new plan ({digest[:12]}) needs approving."
    )
    if job.state == JobState.RUNNING:
        moved = transition(
            job,
            JobState.AWAITING_APPROVAL,
            worker="",
            started_at=None,
            heartbeat_at=None,
            queued_at=None,
            result=message,
        )
        if not moved:
            raise TransitionRefused(f"job #{job.pk} changed state while its plan was checked")
    else:
        Job.objects.filter(pk=job.pk).update(result=message)
        job.result = message
    record(
        actor,
        "job.approvals_lapsed",
        job,
        detail={"why": why, "lapsed": lapsed, "old_hash": old, "new_hash": digest},
    )
    notify("job.approvals_lapsed", job, actor=actor, detail={"why": why})
    transaction.on_commit(partial(publish_job_state, job))
    return True


def approval_lapsed_at_start(job: Job) -> bool:
    """Called by the worker that just claimed ``job``: True when the job was approved but the plan's
    hash changed since (so it must not run): it then awaits approval of the new plan.

    Only a job that has not run any step is checked: one continued after a gate, or resumed, runs
    under the job engine's own plan check (``stale_plan_reason``).
    """
    if not job.mutating or job.attempt != 1:
        return False
    if not ApprovalRequest.objects.filter(job=job, state=RequestState.APPROVED).exists():
        return False
    if job.steps.filter(started_at__isnull=False).exists():
        return False
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state != JobState.RUNNING:
            return False
        request = ApprovalRequest.objects.get(job=locked)
        try:
            lapsed = _lapse_if_changed(None, locked, request)
        except ValidationError:
            return False  # it cannot be planned any more: the job engine's own check fails it
    if lapsed:
        job.state = locked.state
        log.info("job %s not started: its plan changed since it was approved", job.pk)
    return lapsed


# --- expiry ---------------------------------------------------------------------------------------
def expire_requests(now: datetime | None = None) -> list[int]:
    """End every job whose request waited past its expiry time as expired (run by the job sweep).

    Each in a transaction of its own, by a conditional UPDATE: an approval that queued the job
    meanwhile wins, and the job is left alone.
    """
    now = now or timezone.now()
    expired = []
    due = (
        ApprovalRequest.objects.filter(
            state=RequestState.PENDING, expires_at__lte=now, job__state=JobState.AWAITING_APPROVAL
        )
        .select_related("job", "job__cloud")
        .order_by("expires_at")[:EXPIRE_BATCH]
    )
    for request in due:
        job = request.job
        hours = round((request.expires_at - request.requested_at).total_seconds() / 3600)
        with transaction.atomic():
            result = (
                f"Expired: no approval within {hours} h of the request "
                f"({request.requested_at:%Y-%m-%d %H:%M} UTC). Nothing ran; "
                "launch it again if it is still wanted."
            )
            if not transition(job, JobState.EXPIRED, finished_at=now, result=result):
                continue
            job.steps.filter(state=StepState.PENDING).update(state=StepState.SKIPPED)
            ApprovalRequest.objects.filter(pk=request.pk).update(state=RequestState.EXPIRED, decided_at=now)
            record(
                None,
                "job.expired",
                job,
                detail={
                    "requested_at": request.requested_at,
                    "expires_at": request.expires_at,
                    "hours": hours,
                },
            )
            notify("job.expired", job)
            transaction.on_commit(partial(publish_job_state, job))
            expired.append(job.pk)
    if expired:
        log.info("approval requests of jobs %s expired", expired)
    return expired


# --- who approves what ------------------------------------------------------------------------------
def awaiting_for(user) -> QuerySet[Job]:
    """Jobs awaiting approval that ``user`` may approve now: on clouds where they hold the approver
    role (globally, or as a member; admins hold every role), not asked for by them, and not already
    approved by them. One query."""
    if not user.is_authenticated:
        return Job.objects.none()
    jobs = Job.objects.filter(state=JobState.AWAITING_APPROVAL)
    if Role.APPROVER not in roles_of(user):
        approving = CloudMembership.objects.filter(user=user, role__in=[Role.APPROVER, Role.ADMIN])
        jobs = jobs.filter(cloud__in=approving.values("cloud_id"))
    mine = Approval.objects.filter(approver=user, lapsed_at__isnull=True).values("job_id")
    return jobs.exclude(requested_by=user).exclude(pk__in=mine)
