"""The landing page and the health endpoints."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.health import run_checks


def dashboard(request: HttpRequest) -> HttpResponse:
    """What an operator sees first: health of Ferry itself and where to go next."""
    return render(request, "dashboard/dashboard.html", {"health": run_checks()})


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Machine-readable health: 200 when everything is up, 503 naming what is down."""
    report = run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
