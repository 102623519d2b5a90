from django.contrib import admin

from apps.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are appended by services and never changed (see apps.audit.models)."""

    list_display = (
        "created_at",
        "actor_name",
        "action",
        "object_type",
        "object_repr",
        "cloud_slug",
        "source_address",
        "request_id",
    )
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_repr", "cloud_slug", "request_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
