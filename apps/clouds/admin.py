from django.contrib import admin

from apps.audit.admin_audit import AuditedAdminMixin
from apps.clouds.models import Cell, Cloud, Host, InventoryGroup
from portal.forms import MULTILINE_TEXT, EditModelForm


@admin.register(Cloud)
class CloudAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Cloud definitions. passwords.yml is never shown here: change it on the cloud's edit page."""

    list_display = ("slug", "region", "release", "distro", "arch", "container_engine", "state")
    list_filter = ("state", "distro", "arch")
    search_fields = ("slug", "region")
    exclude = ("passwords_encrypted",)
    readonly_fields = ("state",)
    form = EditModelForm
    formfield_overrides = MULTILINE_TEXT


@admin.register(Cell)
class CellAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "cloud", "group")
    list_filter = ("cloud",)


@admin.register(Host)
class HostAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "cloud", "cell", "address", "state")
    list_filter = ("cloud", "state")
    search_fields = ("name", "address")
    list_select_related = ("cloud", "cell")
    raw_id_fields = ("cell",)
    filter_horizontal = ("groups",)


@admin.register(InventoryGroup)
class InventoryGroupAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "cloud", "position")
    list_filter = ("cloud",)
    search_fields = ("name",)
