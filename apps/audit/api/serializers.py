from rest_framework import serializers

from apps.audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    """One audit entry, with its place in the hash chain."""

    actor = serializers.CharField(source="actor_name", read_only=True)
    actor_id = serializers.IntegerField(read_only=True, allow_null=True)
    cloud = serializers.CharField(source="cloud_slug", read_only=True)
    detail = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_id",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "cloud",
            "detail",
            "request_id",
            "source_address",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
