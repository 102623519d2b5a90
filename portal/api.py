"""The API root: every app's view sets registered on one router, plus diagnostics."""

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from apps.audit.api.views import AuditEntryViewSet
from apps.backups.api.views import BackupViewSet
from apps.catalog.api.views import ImageViewSet, ReleaseViewSet, SupportTierViewSet
from apps.clouds.api.views import (
    CellViewSet,
    CloudFileViewSet,
    CloudHistoryViewSet,
    CloudMemberViewSet,
    CloudViewSet,
    HostViewSet,
)
from apps.jobs.api.views import JobViewSet
from apps.windows.api.views import CloudFreezeViewSet, FreezeViewSet, MaintenanceWindowViewSet
from portal.permissions import IsAdmin
from portal.tasks import roundtrip

router = DefaultRouter()
router.register("clouds", CloudViewSet, basename="cloud")
router.register(r"clouds/(?P<cloud_slug>[a-z0-9-]+)/files", CloudFileViewSet, basename="cloud-file")
router.register(r"clouds/(?P<cloud_slug>[a-z0-9-]+)/members", CloudMemberViewSet, basename="cloud-member")
router.register(r"clouds/(?P<cloud_slug>[a-z0-9-]+)/history", CloudHistoryViewSet, basename="cloud-history")
router.register(
    r"clouds/(?P<cloud_slug>[a-z0-9-]+)/windows", MaintenanceWindowViewSet, basename="cloud-window"
)
router.register(r"clouds/(?P<cloud_slug>[a-z0-9-]+)/freezes", CloudFreezeViewSet, basename="cloud-freeze")
router.register("freezes", FreezeViewSet, basename="freeze")
router.register("cells", CellViewSet, basename="cell")
router.register("hosts", HostViewSet, basename="host")
router.register("releases", ReleaseViewSet, basename="release")
router.register("images", ImageViewSet, basename="image")
router.register("support-tiers", SupportTierViewSet, basename="support-tier")
router.register("jobs", JobViewSet, basename="job")
router.register("backups", BackupViewSet, basename="backup")
router.register("audit", AuditEntryViewSet, basename="audit-entry")


@extend_schema(
    request=None,
    responses={
        202: inline_serializer("Roundtrip", {"token": serializers.CharField()}),
        400: OpenApiResponse(description="the token is not 1-64 letters or digits"),
        401: OpenApiResponse(description="not logged in"),
        403: OpenApiResponse(description="not an admin"),
    },
    description=(
        "Enqueue a task that publishes to the channel group `roundtrip.<token>`; "
        "listen on `ws/roundtrip/<token>/` to see it arrive from the worker."
    ),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated, IsAdmin])
def roundtrip_view(request: Request) -> Response:
    """Prove web → broker → worker → channel layer → WebSocket, end to end."""
    data = request.data if isinstance(request.data, dict) else {}
    token = data.get("token") or uuid.uuid4().hex
    if not isinstance(token, str) or not token.isalnum() or len(token) > 64:
        return Response({"token": ["must be 1-64 letters or digits"]}, status=status.HTTP_400_BAD_REQUEST)
    roundtrip.delay(token)
    return Response({"token": token}, status=status.HTTP_202_ACCEPTED)
