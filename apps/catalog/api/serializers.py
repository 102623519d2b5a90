from rest_framework import serializers

from apps.catalog.models import Image, ImageAvailability, ImageTag, Release, SupportRule, SupportTier
from portal.drf import MultilineCharField


class ReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "series", "name", "slurp", "kolla_ansible_major", "status", "position"]


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
