from django.db.models import Prefetch
from rest_framework import viewsets

from apps.catalog.api.filters import ImageFilterSet, ReleaseFilterSet, SupportTierFilterSet
from apps.catalog.api.serializers import ImageSerializer, ReleaseSerializer, SupportTierSerializer
from apps.catalog.models import Image, ImageTag, Release, SupportTier
from portal.pagination import IdCursorPagination
from portal.permissions import ReadMembersWriteAdmins


class PositionCursorPagination(IdCursorPagination):
    ordering = ("position", "id")


class ReleaseViewSet(viewsets.ModelViewSet):
    """The release catalog, oldest first. Admins may edit it."""

    queryset = Release.objects.all()
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    permission_classes = [ReadMembersWriteAdmins]
    pagination_class = PositionCursorPagination
    lookup_field = "series"
    lookup_value_regex = r"[0-9.]+"


class ImageViewSet(viewsets.ReadOnlyModelViewSet):
    """Kolla images with their support matrix cells and per-release tags."""

    queryset = Image.objects.prefetch_related(
        "availability", Prefetch("tags", queryset=ImageTag.objects.select_related("release"))
    )
    serializer_class = ImageSerializer
    filterset_class = ImageFilterSet
    permission_classes = [ReadMembersWriteAdmins]
    lookup_field = "name"


class SupportTierViewSet(viewsets.ModelViewSet):
    """Support tiers and the rules that assign them."""

    queryset = SupportTier.objects.prefetch_related("rules")
    serializer_class = SupportTierSerializer
    filterset_class = SupportTierFilterSet
    permission_classes = [ReadMembersWriteAdmins]
