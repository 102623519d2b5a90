from django.contrib import admin

from apps.catalog.models import Image, ImageAvailability, ImageTag, Release, SupportRule, SupportTier
from portal.forms import MULTILINE_TEXT, EditModelForm


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("series", "name", "slurp", "kolla_ansible_major", "status", "position")
    list_editable = ("status",)
    list_filter = ("status", "slurp")


class ImageAvailabilityInline(admin.TabularInline):
    model = ImageAvailability
    extra = 0


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("name", "service", "description")
    list_filter = ("service",)
    search_fields = ("name", "service")
    inlines = [ImageAvailabilityInline]


@admin.register(ImageTag)
class ImageTagAdmin(admin.ModelAdmin):
    list_display = ("image", "release", "distro", "tag")
    list_filter = ("release", "distro")
    search_fields = ("image__name", "tag")
    list_select_related = ("image", "release")


class SupportRuleInline(admin.TabularInline):
    model = SupportRule
    extra = 1


@admin.register(SupportTier)
class SupportTierAdmin(admin.ModelAdmin):
    list_display = ("name", "rank", "flagged", "description")
    inlines = [SupportRuleInline]
    form = EditModelForm
    formfield_overrides = MULTILINE_TEXT
