"""Pages for the release catalog, Kolla's support matrix and the team's support tiers."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.roles import is_member
from apps.catalog.models import Arch, Distro, Image, ImageAvailability, Release, SupportTier


def _members_only(request: HttpRequest) -> None:
    if not is_member(request.user):
        raise PermissionDenied("The catalog is for members of the operations team.")


def release_list(request: HttpRequest) -> HttpResponse:
    _members_only(request)
    return render(request, "catalog/release_list.html", {"releases": Release.objects.all()})


def support_matrix(request: HttpRequest) -> HttpResponse:
    """Images × distro × arch, as Kolla publishes its support matrix."""
    _members_only(request)
    columns = [(d, a) for d in Distro.values for a in Arch.values]
    cells = {
        (image_id, distro, arch): status
        for image_id, distro, arch, status in ImageAvailability.objects.values_list(
            "image_id", "distro", "arch", "status"
        )
    }
    rows = [
        (image, [cells.get((image.id, d, a), "not_available") for d, a in columns])
        for image in Image.objects.all()
    ]
    return render(request, "catalog/support_matrix.html", {"columns": columns, "rows": rows})


def tier_list(request: HttpRequest) -> HttpResponse:
    _members_only(request)
    return render(request, "catalog/tier_list.html", {"tiers": SupportTier.objects.prefetch_related("rules")})
