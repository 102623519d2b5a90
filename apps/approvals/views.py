"""Approval pages: the queue of jobs awaiting your approval, and approving or denying one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.approvals import services
from apps.approvals.models import ApprovalPolicy, ApprovalRequest
from apps.clouds.permissions import CloudAction, get_cloud_for
from apps.jobs.models import Job, JobState
from apps.jobs.permissions import get_job_for

QUEUE_LIMIT = 500


def approval_queue(request: HttpRequest) -> HttpResponse:
    """Jobs awaiting an approval you may give, oldest first, with what each asks for."""
    jobs = list(
        services.awaiting_for(request.user)
        .select_related("cloud", "requested_by", "approval_request")
        .annotate(live=Count("approvals", filter=Q(approvals__lapsed_at__isnull=True)))
        .order_by("id")[:QUEUE_LIMIT]
    )
    policies = {p.cloud_id: p for p in ApprovalPolicy.objects.filter(cloud_id__in={j.cloud_id for j in jobs})}
    for job in jobs:
        policy = policies.get(job.cloud_id) or services.default_policy(job.cloud)
        job.required = services.required_by(policy, emergency=job.emergency)
    return render(request, "approvals/approval_queue.html", {"jobs": jobs})


def approval_context(user, job: Job) -> dict[str, Any] | None:
    """What the job page shows of ``job``'s approval: its request, the approvals (lapsed ones too),
    how many it needs and whether ``user`` may decide; None for a job that never needed one."""
    request = ApprovalRequest.objects.filter(job=job).select_related("decided_by").first()
    if request is None:
        return None
    approvals = list(job.approvals.select_related("approver").order_by("id"))
    awaiting = job.state == JobState.AWAITING_APPROVAL
    return {
        "request": request,
        "approvals": approvals,
        "live": sum(1 for a in approvals if a.lapsed_at is None),
        "required": services.approvals_needed(job),
        "awaiting": awaiting,
        "refusal": services.approval_refusal(user, job) if awaiting else "",
        "approved_by_you": any(a.approver_id == user.pk and a.lapsed_at is None for a in approvals),
    }


@require_POST
def job_approve(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    try:
        outcome = services.approve_job(
            request.user,
            job,
            reason=request.POST.get("reason", ""),
            plan_hash=request.POST.get("plan_hash", ""),
        )
    except ValidationError as exc:
        messages.error(request, _said(exc))
    else:
        (messages.success if outcome.counted else messages.warning)(request, outcome.message)
    return redirect("job-detail", job_id=job.pk)


@require_POST
def job_deny(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    try:
        services.deny_job(request.user, job, reason=request.POST.get("reason", ""))
        messages.success(request, f"Job #{job.pk} denied; nothing of it runs.")
    except ValidationError as exc:
        messages.error(request, _said(exc))
    return redirect("job-detail", job_id=job.pk)


@require_POST
def cloud_policy(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a cloud's approval policy from its page (its admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    changes: dict[str, Any] = {
        "gates_need_approver": request.POST.get("gates_need_approver") == "on",
        "emergency_allowed": request.POST.get("emergency_allowed") == "on",
    }
    raw = request.POST.get("emergency_approvals", "").strip()
    if raw and not raw.isdigit():
        messages.error(request, f"emergency_approvals: a whole number or empty, got {raw[:20]!r}")
        return redirect("cloud-detail", slug=cloud.slug)
    changes["emergency_approvals"] = int(raw) if raw else None
    for name in ("approvals_required", "request_ttl_hours"):
        raw = request.POST.get(name, "").strip()
        if not raw.isdigit():
            messages.error(request, f"{name}: a whole number, got {raw[:20]!r}")
            return redirect("cloud-detail", slug=cloud.slug)
        changes[name] = int(raw)
    try:
        services.update_policy(request.user, cloud, changes)
        messages.success(request, f"Approval policy of {cloud.slug} saved.")
    except ValidationError as exc:
        messages.error(request, _said(exc))
    return redirect("cloud-detail", slug=cloud.slug)


def _said(exc: ValidationError) -> str:
    return " ".join(f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items())
