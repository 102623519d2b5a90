"""Filtering the audit trail: the same filters for the page, its exports and the API."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from apps.audit.models import AuditEntry


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, handed to the database in UTC.

    Python accepts offsets up to ±23:59, PostgreSQL only up to ±15:59: a time such as
    ``…T00:56+17:41`` reached the database as it was and came back as an error.
    """

    def to_python(self, value: object) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("out of range once in UTC", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` whose value is in UTC (see ``UtcIsoDateTimeField``)."""

    field_class = UtcIsoDateTimeField


class AuditEntryFilterSet(django_filters.FilterSet):
    """Actor, cloud, action (a prefix: ``job.`` is every job action), a time range, and more."""

    actor = django_filters.CharFilter(field_name="actor_name", help_text="the actor's user name")
    cloud = django_filters.CharFilter(field_name="cloud_slug", help_text="a cloud's slug")
    action = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="an action or its prefix, e.g. job."
    )
    since = UtcIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="at or after (ISO 8601)"
    )
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="before (ISO 8601)")
    request_id = django_filters.CharFilter(field_name="request_id")
    object_type = django_filters.CharFilter(field_name="object_type", help_text="e.g. catalog.release")
    object_id = django_filters.CharFilter(field_name="object_id")

    class Meta:
        model = AuditEntry
        fields = ["actor", "cloud", "action", "since", "until", "request_id", "object_type", "object_id"]
