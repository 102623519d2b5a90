"""A cloud's notification settings (its webhook) over the API."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from apps.clouds.permissions import CloudAction, can, get_cloud_for
from apps.notifications import services
from apps.notifications.api.serializers import (
    NotificationSettingsSerializer,
    NotificationSettingsUpdateSerializer,
)
from portal.drf import as_drf_error


@extend_schema(
    methods=["GET"],
    responses={200: NotificationSettingsSerializer},
    description=(
        "The cloud's webhook: URL (in full for its admins), whether it is enabled, and whether a "
        "signing secret is set (never the secret)."
    ),
)
@extend_schema(
    methods=["PUT", "PATCH"],
    request=NotificationSettingsUpdateSerializer,
    responses={200: NotificationSettingsSerializer},
    description=(
        "Change the cloud's webhook (its admins): an http(s) URL, a signing secret of 16 to 512 "
        "characters (empty keeps the stored one), enabled. Audited with before and after, the secret "
        "only as set."
    ),
)
@api_view(["GET", "PUT", "PATCH"])
def notifications_view(request: Request, slug: str) -> Response:
    """A cloud's notification settings."""
    cloud = get_cloud_for(request.user, slug)
    context = {"full_url": can(request.user, CloudAction.ADMINISTER, cloud)}
    if request.method == "GET":
        return Response(NotificationSettingsSerializer(services.settings_for(cloud), context=context).data)
    form = NotificationSettingsUpdateSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        hook = services.update_settings(request.user, cloud, dict(form.validated_data))
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
    return Response(NotificationSettingsSerializer(hook, context=context).data)
