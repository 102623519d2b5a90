"""Job pages: the queue, one job with its steps, hosts and log, launch, cancel, resume, download."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.approvals.services import needs_approval
from apps.approvals.views import approval_context
from apps.clouds.permissions import CloudAction, can, get_cloud_for
from apps.jobs import services
from apps.jobs.findings import job_findings
from apps.jobs.forms import JobLaunchForm, chosen_kind
from apps.jobs.live import stored_payloads
from apps.jobs.models import ACTIVE_STATES, Event, Job, JobState
from apps.jobs.permissions import get_job_for, jobs_for
from apps.jobs.preview import plan_preview
from apps.windows.services import window_status
from runner.planner import KINDS

LOG_CHUNK = 2000


UNFINISHED_STATES = [
    *ACTIVE_STATES,
    JobState.WAITING,
    JobState.QUEUED,
    JobState.SCHEDULED,
    JobState.AWAITING_APPROVAL,
]


def _listed(user) -> QuerySet[Job]:
    return jobs_for(user).select_related("cloud", "requested_by")


def _unfinished(user) -> QuerySet[Job]:
    """The jobs ``user`` may see that run or wait, in the order the dispatcher starts them."""
    return _listed(user).filter(state__in=UNFINISHED_STATES).order_by("-priority", "id")


def active_jobs(request: HttpRequest) -> HttpResponse:
    """The running, waiting, queued and scheduled jobs, as an htmx partial the dashboard refreshes
    every two seconds."""
    return render(
        request,
        "jobs/_job_table.html",
        {"jobs": list(_unfinished(request.user)), "empty": "Nothing runs or waits right now."},
    )


def job_list(request: HttpRequest) -> HttpResponse:
    active = list(_unfinished(request.user))
    recent = list(_listed(request.user).exclude(state__in=UNFINISHED_STATES).order_by("-id")[:50])
    return render(request, "jobs/job_list.html", {"active": active, "recent": recent})


INITIAL_EVENTS = 200
# Findings listed on the job page; a job that found more says so and leaves the rest to the log.
FINDINGS_SHOWN = 100
FIRST_SCREEN_LINES = 60
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def first_lines(events: list[dict], count: int) -> list[tuple[int, str]]:
    """The first ``count`` log lines of ``events`` as (seq, text without ANSI escapes)."""
    lines: list[tuple[int, str]] = []
    for event in events:
        if not event["stdout"]:
            continue
        for text in event["stdout"].split("\n"):
            lines.append((event["seq"], ANSI_ESCAPE.sub("", text)))
            if len(lines) == count:
                return lines
    return lines


def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for(request.user, job_id)
    steps = list(job.steps.order_by("attempt", "position"))
    current = [s for s in steps if s.attempt == job.attempt]
    done = sum(1 for s in current if s.state == "succeeded")
    initial = stored_payloads(job.pk, 0, None, INITIAL_EVENTS)
    findings = job_findings(job, limit=FINDINGS_SHOWN + 1)
    return render(
        request,
        "jobs/job_detail.html",
        {
            "job": job,
            "steps": steps,
            "current_steps": current,
            "done": done,
            "hosts": job.host_summaries.all(),
            "can_operate": can(request.user, CloudAction.OPERATE, job.cloud),
            "approval": approval_context(request.user, job),
            # What the job found, without reading the log; drawn as the page loads (joblog.js does
            # not redraw it, so a job that finishes while the page is open shows it on the next load).
            "findings": findings[:FINDINGS_SHOWN],
            "more_findings": len(findings) > FINDINGS_SHOWN,
            "ws_path": f"/ws/jobs/{job.pk}/",
            # The first screen of the log comes with the page, drawn before any script runs (without
            # colours until joblog.js takes over); the socket replays from after these events.
            "initial_events": initial,
            "first_lines": first_lines(initial, FIRST_SCREEN_LINES),
        },
    )


def job_launch(request: HttpRequest, slug: str) -> HttpResponse:
    """The launch form: the chosen kind's fields and its plan, redrawn as the form changes.

    htmx asks for this page again with the form's values whenever one changes (and swaps in the
    fields and the preview); without JavaScript a refresh or a refused submit draws the same.
    """
    cloud = get_cloud_for(request.user, slug, CloudAction.OPERATE)
    data = request.POST if request.method == "POST" else request.GET
    kind = chosen_kind(data)
    approval = needs_approval(cloud, kind)
    # Change control: whether a mutating job would start now; the emergency box shows when it would not.
    window = window_status(cloud, timezone.now()) if KINDS[kind].mutating else None
    launch_form = {
        "cloud": cloud,
        "kind": kind,
        "needs_approval": approval,
        "offer_emergency": window is not None and not window.open,
    }
    if request.method == "POST":
        form = JobLaunchForm(request.POST, **launch_form)
        checked = form
    else:
        # What the query string holds is shown as chosen, not judged: the preview says what is wrong.
        form = JobLaunchForm(initial={**data.dict(), "kind": kind}, **launch_form)
        checked = JobLaunchForm({**data.dict(), "kind": kind}, **launch_form)
    # Planned before the launch is tried: a refused confirmation still shows what it would do and lose.
    preview, refusal = _preview(cloud, checked)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.launch_job(
                request.user,
                cloud,
                kind,
                params=form.params(),
                limit=form.cleaned_data.get("limit") or "",
                priority=form.cleaned_data.get("priority") or 0,
                confirmed=form.cleaned_data.get("confirm", False),
                reason=form.cleaned_data.get("reason") or "",
                wanted_at=form.cleaned_data.get("wanted_at"),
                emergency=form.cleaned_data.get("emergency", False),
                emergency_reason=form.cleaned_data.get("emergency_reason") or "",
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, launched_message(job))
            return redirect("job-detail", job_id=job.pk)
    return render(
        request,
        "jobs/job_launch.html",
        {
            "form": form,
            "cloud": cloud,
            "preview": preview,
            "refusal": refusal,
            "needs_approval": approval,
            "window": window,
        },
    )


def launched_message(job: Job) -> str:
    """What a person reads once a job is launched: awaiting approval, queued, or scheduled for when
    and why."""
    steps = job.steps.count()
    if job.state == JobState.AWAITING_APPROVAL:
        return f"Job #{job.pk} ({job.get_kind_display()}) awaits approval with {steps} steps."
    if job.state == JobState.SCHEDULED:
        when = f"{job.scheduled_for:%Y-%m-%d %H:%M} UTC" if job.scheduled_for else "no opening yet"
        return (
            f"Job #{job.pk} ({job.get_kind_display()}) scheduled for {when} with {steps} steps: "
            f"{job.scheduled_reason}"
        )
    emergency = " as an emergency" if job.emergency else ""
    return f"Job #{job.pk} ({job.get_kind_display()}) queued{emergency} with {steps} steps."


def _preview(cloud, form: JobLaunchForm) -> tuple[dict | None, dict | None]:
    """The plan preview of what ``form`` asks for, or the refusal naming the field."""
    if not form.is_valid():
        field, message = form.first_error()
        return None, {"field": field, "message": message}
    try:
        preview = plan_preview(cloud, form.cleaned_data["kind"], form.params())
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        return None, {"field": field, "message": " ".join(errors)}
    seconds = preview["estimated_seconds"]
    preview["estimate"] = _duration(seconds) if seconds is not None else None
    preview["path"] = " → ".join([preview["from"] or "", *(h["to"] for h in preview["hops"])])
    return preview, None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for(request.user, job_id, CloudAction.OPERATE)
    try:
        services.cancel_job(request.user, job)
        messages.success(request, f"Cancel requested for job #{job.pk}; it stops within two seconds.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("job-detail", job_id=job.pk)


@require_POST
def job_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_job_for(request.user, job_id, CloudAction.OPERATE)
    try:
        services.resume_job(request.user, job, confirmed=request.POST.get("confirm") == "on")
        messages.success(request, f"Job #{job.pk} queued again from the step that did not finish.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("job-detail", job_id=job.pk)


@require_POST
def job_continue(request: HttpRequest, job_id: int) -> HttpResponse:
    return _gate(request, job_id, services.continue_job, "continues with its remaining steps")


@require_POST
def job_abort(request: HttpRequest, job_id: int) -> HttpResponse:
    return _gate(request, job_id, services.abort_job, "was aborted; its cloud is free again")


def _gate(request: HttpRequest, job_id: int, decide, done: str) -> HttpResponse:
    job = get_job_for(request.user, job_id, CloudAction.OPERATE)
    try:
        decide(request.user, job, reason=request.POST.get("reason", ""))
        messages.success(request, f"Job #{job.pk} {done}.")
    except ValidationError as exc:
        messages.error(
            request, " ".join(f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items())
        )
    return redirect("job-detail", job_id=job.pk)


def job_log(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    """The full plain-text log of a job, streamed in keyset chunks (no ANSI colour codes)."""
    job = get_job_for(request.user, job_id)

    def lines():
        after = 0
        while True:
            chunk = list(
                Event.objects.filter(job=job, seq__gt=after)
                .order_by("seq")
                .values_list("seq", "stdout")[:LOG_CHUNK]
            )
            if not chunk:
                return
            for _seq, stdout in chunk:
                if stdout:
                    yield ANSI_ESCAPE.sub("", stdout) + "\n"
            after = chunk[-1][0]

    response = StreamingHttpResponse(lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ferry-job-{job.pk}.log"'
    return response
