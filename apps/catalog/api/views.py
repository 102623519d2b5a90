from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from rest_framework import viewsets

from apps.catalog import services
from apps.catalog.api.filters import ImageFilterSet, ReleaseFilterSet, SupportTierFilterSet
from apps.catalog.api.serializers import ImageSerializer, ReleaseSerializer, SupportTierSerializer
from apps.catalog.models import Image, ImageTag, Release, SupportTier
from portal.drf import as_drf_error
from portal.pagination import IdCursorPagination
from portal.permissions import ReadMembersWriteAdmins


class PositionCursorPagination(IdCursorPagination):
    ordering = ("position", "id")


class ServiceWritesMixin:
    """Creates, changes and deletes through the catalog's services, which audit them."""

    create_service = update_service = delete_service = None

    def perform_create(self, serializer):
        try:
            serializer.instance = self.create_service(self.request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def perform_update(self, serializer):
        try:
            serializer.instance = self.update_service(
                self.request.user, serializer.instance, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def perform_destroy(self, instance):
        self.delete_service(self.request.user, instance)


class ReleaseViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    """The release catalog, oldest first. Admins may edit it; a release in use cannot be deleted."""

    queryset = Release.objects.all()
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    permission_classes = [ReadMembersWriteAdmins]
    pagination_class = PositionCursorPagination
    lookup_field = "series"
    lookup_value_regex = r"[0-9.]+"
    create_service = staticmethod(services.create_release)
    update_service = staticmethod(services.update_release)
    delete_service = staticmethod(services.delete_release)


class ImageViewSet(viewsets.ReadOnlyModelViewSet):
    """Kolla images with their support matrix cells and per-release tags."""

    queryset = Image.objects.prefetch_related(
        "availability", Prefetch("tags", queryset=ImageTag.objects.select_related("release"))
    )
    serializer_class = ImageSerializer
    filterset_class = ImageFilterSet
    permission_classes = [ReadMembersWriteAdmins]
    lookup_field = "name"


class SupportTierViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    """Support tiers and the rules that assign them. A tier that rules assign cannot be deleted."""

    queryset = SupportTier.objects.prefetch_related("rules")
    serializer_class = SupportTierSerializer
    filterset_class = SupportTierFilterSet
    permission_classes = [ReadMembersWriteAdmins]
    create_service = staticmethod(services.create_tier)
    update_service = staticmethod(services.update_tier)
    delete_service = staticmethod(services.delete_tier)
