"""Pages for the release catalog, Kolla's support matrix and the team's support tiers."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from apps.accounts.roles import is_member
from apps.catalog.models import (
    Arch,
    Distro,
    Image,
    ImageAvailability,
    Release,
    SupportRule,
    SupportTier,
    release_infos,
)


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


def release_detail(request: HttpRequest, series: str) -> HttpResponse:
    """One release: where it can be upgraded to, the clouds on it, its image tags."""
    _members_only(request)
    from runner.planner import legal_hops

    release = get_object_or_404(Release, series=series)
    releases = release_infos()
    return render(
        request,
        "catalog/release_detail.html",
        {
            "release": release,
            "hops": legal_hops(releases, release.series),
            "clouds": release.clouds.order_by("slug"),
            "tags": release.image_tags.select_related("image").order_by("image__name", "distro")[:500],
        },
    )


def image_detail(request: HttpRequest, name: str) -> HttpResponse:
    """One image: its support matrix cells, its tier and its tag for every release and distro."""
    _members_only(request)
    image = get_object_or_404(Image, name=name)
    return render(
        request,
        "catalog/image_detail.html",
        {
            "image": image,
            "availability": image.availability.all(),
            "tags": image.tags.select_related("release").order_by("-release__position", "distro"),
            "rules": SupportRule.objects.filter(
                subject_type__in=["image", "service"], subject__in=[image.name, image.service]
            ).select_related("tier"),
        },
    )


def tier_list(request: HttpRequest) -> HttpResponse:
    _members_only(request)
    return render(request, "catalog/tier_list.html", {"tiers": SupportTier.objects.prefetch_related("rules")})
