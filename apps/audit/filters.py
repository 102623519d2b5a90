"""Filtering the audit trail: the same filters for the page, its exports and the API."""

from __future__ import annotations

import django_filters

from apps.audit.models import AuditEntry


class AuditEntryFilterSet(django_filters.FilterSet):
    """Actor, cloud, action (a prefix: ``job.`` is every job action), a time range, and more."""

    actor = django_filters.CharFilter(field_name="actor_name", help_text="the actor's user name")
    cloud = django_filters.CharFilter(field_name="cloud_slug", help_text="a cloud's slug")
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="an action or its prefix, e.g. job."
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="at or after (ISO 8601)"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="before (ISO 8601)"
    )
    request_id = django_filters.CharFilter(field_name="request_id")
    object_type = django_filters.CharFilter(field_name="object_type", help_text="e.g. catalog.release")
    object_id = django_filters.CharFilter(field_name="object_id")

    class Meta:
        model = AuditEntry
        fields = ["actor", "cloud", "action", "since", "until", "request_id", "object_type", "object_id"]
