from django.contrib import admin

from apps.audit.admin_audit import AuditedAdminMixin
from apps.catalog import services
from apps.catalog.models import Image, ImageAvailability, ImageTag, Release, SupportRule, SupportTier
from portal.forms import MULTILINE_TEXT, EditModelForm


@admin.register(Release)
class ReleaseAdmin(AuditedAdminMixin, admin.ModelAdmin):
    delete_service = staticmethod(services.delete_release)
    list_display = ("series", "name", "slurp", "kolla_ansible_major", "status", "position")
    list_editable = ("status",)
    list_filter = ("status", "slurp")


class ImageAvailabilityInline(admin.TabularInline):
    model = ImageAvailability
    extra = 0


@admin.register(Image)
class ImageAdmin(AuditedAdminMixin, admin.ModelAdmin):
    delete_service = staticmethod(services.delete_image)
    list_display = ("name", "service", "description")
    list_filter = ("service",)
    search_fields = ("name", "service")
    inlines = [ImageAvailabilityInline]


@admin.register(ImageTag)
class ImageTagAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("image", "release", "distro", "tag")
    list_filter = ("release", "distro")
    search_fields = ("image__name", "tag")
    list_select_related = ("image", "release")


class SupportRuleInline(admin.TabularInline):
    model = SupportRule
    extra = 1


@admin.register(SupportTier)
class SupportTierAdmin(AuditedAdminMixin, admin.ModelAdmin):
    delete_service = staticmethod(services.delete_tier)
    list_display = ("name", "rank", "flagged", "description")
    inlines = [SupportRuleInline]
    form = EditModelForm
    formfield_overrides = MULTILINE_TEXT
