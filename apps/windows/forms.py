"""The cloud page's small forms: add a maintenance window, declare a change freeze."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from apps.windows.rules import WEEKDAY_NAMES


class WallDateTimeField(forms.DateTimeField):
    """A date and time as typed, without a zone: the freeze's own time zone applies (the service)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any):
        result = super().to_python(value)
        # Django read it in the current zone (UTC); undo that, the service reads it in the form's zone.
        return timezone.make_naive(result) if result is not None and timezone.is_aware(result) else result


class MaintenanceWindowForm(forms.Form):
    """A weekly window: days, start and end (wall clock, in its zone; an end before the start is the
    next day), zone and label."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    start_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}), help_text="before the start: the next day"
    )
    timezone = forms.CharField(max_length=64, initial="UTC", help_text="IANA name, e.g. Europe/Berlin")
    label = forms.CharField(max_length=200, required=False)


class ChangeFreezeForm(forms.Form):
    """A change freeze of this cloud or, for global admins, of every cloud."""

    starts_at = WallDateTimeField()
    ends_at = WallDateTimeField()
    timezone = forms.CharField(max_length=64, initial="UTC", help_text="the zone of the two times above")
    reason = forms.CharField(max_length=500)
    every_cloud = forms.BooleanField(required=False, label="Freeze every cloud (global admins)")
