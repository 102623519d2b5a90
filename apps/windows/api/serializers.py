from django.utils import timezone
from rest_framework import serializers

from apps.windows.models import ChangeFreeze, MaintenanceWindow
from apps.windows.services import MAX_REASON


class WallDateTimeField(serializers.DateTimeField):
    """A date-time kept as given: one without an offset is wall-clock time in the freeze's
    ``timezone``, which the service applies (DRF would read it in the server's zone)."""

    def enforce_timezone(self, value):
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    """A weekly window. Give its length as ``duration`` ("04:00:00", "1 02:00:00") or as
    ``end_time`` (before the start: the next day)."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday",
    )
    duration = serializers.DurationField(required=False)
    end_time = serializers.TimeField(required=False, write_only=True)
    description = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "weekdays",
            "start_time",
            "duration",
            "end_time",
            "timezone",
            "label",
            "description",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "description"]

    def get_description(self, window: MaintenanceWindow) -> str:
        return window.as_rule().describe()


class ChangeFreezeSerializer(serializers.ModelSerializer):
    """A change freeze. ``starts_at`` and ``ends_at`` without an offset are read in ``timezone``."""

    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    starts_at = WallDateTimeField()
    ends_at = WallDateTimeField()
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    reason = serializers.CharField(max_length=MAX_REASON)

    class Meta:
        model = ChangeFreeze
        fields = ["id", "cloud", "starts_at", "ends_at", "timezone", "reason", "created_by", "created_at"]
        read_only_fields = ["id", "cloud", "created_by", "created_at"]


class WindowStatusSerializer(serializers.Serializer):
    """Whether mutating jobs may start on the cloud now, and if not, why and when."""

    open = serializers.BooleanField()
    restricted = serializers.BooleanField(help_text="the cloud has windows, or a freeze applies to it")
    current_window = serializers.CharField(allow_null=True)
    current_window_ends = serializers.DateTimeField(allow_null=True)
    freeze = serializers.CharField(allow_null=True)
    next_opening = serializers.DateTimeField(allow_null=True)
    opens_with = serializers.CharField()
    reason = serializers.CharField()
