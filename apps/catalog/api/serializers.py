from rest_framework import serializers

from apps.catalog.models import Image, ImageAvailability, ImageTag, Release, SupportRule, SupportTier
from portal.drf import MultilineCharField


class ReleaseSerializer(serializers.ModelSerializer):
    """A series with its dates; ``current_status`` is its phase today, computed from them."""

    current_status = serializers.CharField(read_only=True)
    openstack_release = serializers.CharField(read_only=True)
    default_base_distro = serializers.CharField(read_only=True, allow_null=True)
    host_os = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), read_only=True, allow_null=True
    )

    class Meta:
        model = Release
        fields = [
            "id",
            "series",
            "name",
            "slurp",
            "kolla_ansible_major",
            "status",
            "current_status",
            "released_on",
            "next_status",
            "next_status_on",
            "eol_on",
            "openstack_release",
            "default_base_distro",
            "host_os",
            "position",
        ]


class ImageAvailabilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ImageAvailability
        fields = ["distro", "arch", "status"]


class ImageTagSerializer(serializers.ModelSerializer):
    release = serializers.SlugRelatedField(slug_field="series", read_only=True)

    class Meta:
        model = ImageTag
        fields = ["release", "distro", "tag"]


class ImageSerializer(serializers.ModelSerializer):
    availability = ImageAvailabilitySerializer(many=True, read_only=True)
    tags = ImageTagSerializer(many=True, read_only=True)

    class Meta:
        model = Image
        fields = ["id", "name", "service", "description", "availability", "tags"]


class SupportRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportRule
        fields = ["id", "subject_type", "subject", "note"]


class SupportTierSerializer(serializers.ModelSerializer):
    rules = SupportRuleSerializer(many=True, read_only=True)
    description = MultilineCharField(required=False, allow_blank=True)

    class Meta:
        model = SupportTier
        fields = ["id", "name", "rank", "flagged", "description", "rules"]
