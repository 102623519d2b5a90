from rest_framework import serializers

from apps.notifications.models import NotificationSettings
from apps.notifications.services import secret_hint, url_origin


class NotificationSettingsSerializer(serializers.ModelSerializer):
    """A cloud's webhook as the API shows it: the secret only as whether one is set; the URL in full
    to the cloud's admins, its scheme and host to everyone else who sees the cloud."""

    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)  # null until first saved
    secret = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = NotificationSettings
        fields = ["cloud", "webhook_url", "enabled", "secret", "updated_at", "updated_by"]
        read_only_fields = fields

    def get_webhook_url(self, hook: NotificationSettings) -> str:
        # A URL may carry a token of its own (chat webhooks do): only admins see past the host.
        if self.context.get("full_url"):
            return hook.webhook_url
        return url_origin(hook.webhook_url)

    def get_secret(self, hook: NotificationSettings) -> str:
        return secret_hint(hook)


class NotificationSettingsUpdateSerializer(serializers.Serializer):
    """What a cloud's admin changes; fields left out keep their value, an empty secret keeps the
    stored one, unknown fields are refused."""

    webhook_url = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    secret = serializers.CharField(required=False, allow_blank=True, max_length=512, write_only=True)
    enabled = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs
