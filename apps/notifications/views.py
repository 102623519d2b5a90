"""The cloud page's notification form (its admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.clouds.permissions import CloudAction, get_cloud_for
from apps.notifications import services


@require_POST
def cloud_notifications(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a cloud's webhook from its page; an empty secret keeps the stored one."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    changes = {
        "webhook_url": request.POST.get("webhook_url", ""),
        "enabled": request.POST.get("enabled") == "on",
        "secret": request.POST.get("secret", ""),
    }
    try:
        services.update_settings(request.user, cloud, changes)
        messages.success(request, f"Notifications of {cloud.slug} saved.")
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    return redirect("cloud-detail", slug=cloud.slug)
