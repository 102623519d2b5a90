from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.clouds.permissions import CloudAction, get_cloud_for
from apps.windows import services
from apps.windows.api.serializers import (
    ChangeFreezeSerializer,
    MaintenanceWindowSerializer,
    WindowStatusSerializer,
)
from apps.windows.models import ChangeFreeze, MaintenanceWindow
from portal.drf import as_drf_error
from portal.permissions import ReadMembersWriteAdmins, ReadMembersWriteChecked


class _CloudScoped(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    permission_classes = [ReadMembersWriteChecked]
    pagination_class = None  # a handful per cloud

    def _cloud(self, action: CloudAction = CloudAction.VIEW):
        return get_cloud_for(self.request.user, self.kwargs["cloud_slug"], action)

    def create(self, request, *args, **kwargs):
        self._cloud(CloudAction.ADMINISTER)  # a 403 before the body is judged
        return super().create(request, *args, **kwargs)


class MaintenanceWindowViewSet(_CloudScoped):
    """A cloud's weekly maintenance windows: mutating jobs start only inside one (a cloud without
    windows is always open, freezes aside). Members of the cloud read; its admins add and remove."""

    serializer_class = MaintenanceWindowSerializer
    queryset = MaintenanceWindow.objects.none()  # for the schema; get_queryset is what answers

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MaintenanceWindow.objects.none()
        return self._cloud().maintenance_windows.select_related("cloud", "created_by").order_by("id")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.create_window(
                self.request.user,
                self._cloud(CloudAction.ADMINISTER),
                weekdays=data["weekdays"],
                start_time=data["start_time"],
                duration=data.get("duration"),
                end_time=data.get("end_time"),
                timezone_name=data["timezone"],
                label=data.get("label", ""),
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def perform_destroy(self, instance):
        services.delete_window(self.request.user, self._cloud(CloudAction.ADMINISTER), instance.pk)

    @extend_schema(responses={200: WindowStatusSerializer})
    @action(detail=False, methods=["get"])
    def status(self, request, cloud_slug=None):
        """Whether a mutating job may start on the cloud now; if not, why and when it may."""
        status = services.window_status(self._cloud(), timezone.now())
        body = {
            "open": status.open,
            "restricted": status.restricted,
            "current_window": status.current.window.describe() if status.current else None,
            "current_window_ends": status.current.end if status.current else None,
            "freeze": status.freeze.describe() if status.freeze else None,
            "next_opening": status.next_opening,
            "opens_with": status.opens_with,
            "reason": status.reason,
        }
        return Response(WindowStatusSerializer(body).data)


class CloudFreezeViewSet(_CloudScoped):
    """Change freezes of one cloud (freezes of every cloud are at /api/freezes/). Members of the
    cloud read; its admins declare and lift them."""

    serializer_class = ChangeFreezeSerializer
    queryset = ChangeFreeze.objects.none()  # for the schema; get_queryset is what answers

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChangeFreeze.objects.none()
        return self._cloud().change_freezes.select_related("cloud", "created_by").order_by("starts_at", "id")

    def perform_create(self, serializer):
        serializer.instance = _create_freeze(
            self.request.user, self._cloud(CloudAction.ADMINISTER), serializer
        )

    def perform_destroy(self, instance):
        services.delete_freeze(self.request.user, self._cloud(CloudAction.ADMINISTER), instance.pk)


class FreezeViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Change freezes of every cloud at once. Team members read; global admins declare and lift."""

    serializer_class = ChangeFreezeSerializer
    permission_classes = [ReadMembersWriteAdmins]
    pagination_class = None  # a few a year
    queryset = (
        ChangeFreeze.objects.filter(cloud__isnull=True)
        .select_related("created_by")
        .order_by("starts_at", "id")
    )

    def perform_create(self, serializer):
        serializer.instance = _create_freeze(self.request.user, None, serializer)

    def perform_destroy(self, instance):
        services.delete_freeze(self.request.user, None, instance.pk)


def _create_freeze(actor, cloud, serializer) -> ChangeFreeze:
    data = serializer.validated_data
    try:
        return services.create_freeze(
            actor,
            cloud,
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            timezone_name=data.get("timezone") or "UTC",
        )
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
