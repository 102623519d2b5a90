"""The landing page and the health endpoints."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.dashboard.fleet import NEEDS_ATTENTION, fleet
from apps.notifications.services import failed_count
from portal.health import run_checks


def dashboard(request: HttpRequest) -> HttpResponse:
    """What an operator sees first: the fleet, what waits for someone, and the health of Ferry itself."""
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "fleet": fleet(request.user),
            "attention_states": NEEDS_ATTENTION,
            "health": run_checks(),
            "failed_notifications": failed_count(),
        },
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Machine-readable health: 200 when everything is up, 503 naming what is down."""
    report = run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
