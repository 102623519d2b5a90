"""The cloud page's part of change control: its windows, freezes and scheduled jobs, and the
admins' forms to change them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.roles import Role, has_role
from apps.clouds.models import Cloud
from apps.clouds.permissions import CloudAction, get_cloud_for
from apps.jobs.models import JobState
from apps.windows import services
from apps.windows.forms import ChangeFreezeForm, MaintenanceWindowForm


def cloud_windows_context(user, cloud: Cloud) -> dict[str, Any]:
    """What the cloud page shows of change control: open now or not, the next opening, the windows,
    the freezes that apply and have not ended, and the jobs waiting for a window."""
    now = timezone.now()
    return {
        "window_status": services.window_status(cloud, now),
        "windows": list(cloud.maintenance_windows.order_by("id")),
        "freezes": list(services.freezes_for(cloud, now).select_related("cloud")),
        "scheduled_jobs": list(
            cloud.jobs.filter(state=JobState.SCHEDULED)
            .select_related("cloud", "requested_by")
            .order_by("scheduled_for", "id")[:50]
        ),
        "window_form": MaintenanceWindowForm(),
        "freeze_form": ChangeFreezeForm(),
        "can_freeze_all": has_role(user, Role.ADMIN),
    }


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        messages.error(request, f"{field}: {' '.join(errors)}")


def _form_refused(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        messages.error(request, f"{field}: {' '.join(errors)}")


def _back(cloud: Cloud) -> HttpResponse:
    response = redirect("cloud-detail", slug=cloud.slug)
    response["Location"] += "#windows"
    return response


@require_POST
def window_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a weekly maintenance window (the cloud's admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    form = MaintenanceWindowForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _back(cloud)
    data = form.cleaned_data
    try:
        window = services.create_window(
            request.user,
            cloud,
            weekdays=data["weekdays"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            timezone_name=data["timezone"].strip(),
            label=data["label"],
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"Maintenance window added: {window.as_rule().describe()}.")
    return _back(cloud)


@require_POST
def window_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Remove a maintenance window (the cloud's admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    try:
        services.delete_window(request.user, cloud, pk)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Maintenance window removed.")
    return _back(cloud)


@require_POST
def freeze_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Declare a change freeze of this cloud (its admins), or of every cloud (global admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    form = ChangeFreezeForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _back(cloud)
    data = form.cleaned_data
    try:
        services.create_freeze(
            request.user,
            None if data["every_cloud"] else cloud,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            timezone_name=data["timezone"].strip(),
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Change freeze declared.")
    return _back(cloud)


@require_POST
def freeze_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Lift a change freeze: this cloud's (its admins) or a global one (global admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    is_global = services.freezes_for(None).filter(pk=pk).exists()
    try:
        services.delete_freeze(request.user, None if is_global else cloud, pk)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Change freeze lifted.")
    return _back(cloud)
