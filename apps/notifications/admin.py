from django.contrib import admin

from apps.notifications import services
from apps.notifications.models import NotificationSettings, Outbox


@admin.register(Outbox)
class OutboxAdmin(admin.ModelAdmin):
    """What Ferry sent, still tries to send, or gave up on (read-only: the sweep owns these rows)."""

    list_display = ("id", "event", "channel", "recipient", "state", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("state", "channel", "event", "cloud")
    search_fields = ("recipient", "subject", "event")
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send the failed ones again", permissions=["view"])
    def send_again(self, request, queryset) -> None:
        count = services.send_again(request.user, queryset)
        self.message_user(request, f"{count} failed notification(s) queued to be sent again.")


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    """Each cloud's webhook, read-only here: change it on the cloud's page or its API (audited), which
    also encrypts the secret."""

    list_display = ("cloud", "webhook_url", "enabled", "updated_at", "updated_by")
    exclude = ("secret_encrypted",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
