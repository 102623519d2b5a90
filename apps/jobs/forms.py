from __future__ import annotations

from typing import Any

from django import forms
from django.template.defaultfilters import filesizeformat

from apps.backups.models import Backup, BackupState
from apps.catalog.models import Release
from apps.jobs.models import JobKind
from apps.jobs.services import MAX_REASON, rollback_backups
from runner.params import Param
from runner.planner import DEFAULT_KIND, KINDS


def chosen_kind(data: Any) -> str:
    """The kind a request names (form data or query string), or the default when it names none."""
    kind = data.get("kind") if data is not None else None
    return kind if kind in KINDS else DEFAULT_KIND


class JobLaunchForm(forms.Form):
    """Launch a job on a cloud: the kind, then only that kind's parameters, from the table of kinds.

    Mutating kinds need the confirmation box ticked (``launch_job`` enforces it), and a reason
    where the cloud's policy asks for approvers (``needs_approval``); while the cloud is closed to
    changes (``offer_emergency``) they may be launched as an emergency, with a reason. Parameters a form
    cannot hold (the lab's failure injection maps and host lists) are the API's.
    """

    kind = forms.ChoiceField(choices=JobKind.choices)

    def __init__(
        self,
        *args: Any,
        cloud=None,
        kind: str = DEFAULT_KIND,
        needs_approval: bool = False,
        offer_emergency: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.cloud = cloud
        self.spec = KINDS[kind]
        self.declared = [p for p in self.spec.params if not p.backend and p.kind in FIELD_TYPES]
        for param in self.declared:
            self.fields[param.name] = FIELD_TYPES[param.kind](self, param)
        self.fields["limit"] = forms.CharField(required=False, help_text="cells or hosts, comma-separated")
        self.fields["priority"] = forms.IntegerField(
            required=False, initial=0, min_value=-100, max_value=100, help_text="higher starts first"
        )
        if self.spec.mutating:
            self.fields["confirm"] = forms.BooleanField(
                required=False, label="I understand this changes the cloud"
            )
        if needs_approval:
            # Required by launch_job where the cloud's policy asks for approvers, who read it.
            self.fields["reason"] = forms.CharField(
                required=False, max_length=MAX_REASON, help_text="why you want it; approvers read it"
            )
            self.fields["wanted_at"] = forms.DateTimeField(
                required=False,
                label="Wanted at (UTC)",
                help_text="when you would like it to run, for the approvers",
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
            )
        if self.spec.mutating and offer_emergency:
            # The cloud is closed to changes now: the job is scheduled, unless this is ticked.
            self.fields["emergency"] = forms.BooleanField(
                required=False,
                label="Emergency: start now, outside the maintenance windows and freezes (audited)",
            )
            self.fields["emergency_reason"] = forms.CharField(
                required=False, max_length=500, help_text="required for an emergency: why it cannot wait"
            )
        for field in self.fields.values():
            if isinstance(field.widget, (forms.TextInput, forms.Textarea)):
                # Any change redraws the form (htmx): what a person is typing while a redraw is on its
                # way must survive it, so text fields keep their element and value across the swap.
                field.widget.attrs["hx-preserve"] = "true"

    def params(self) -> dict[str, Any]:
        """The chosen kind's parameters as the planner takes them; empty ones are left out."""
        params: dict[str, Any] = {}
        for param in self.declared:
            value = self.cleaned_data.get(param.name)
            if value in (None, "", False):
                continue
            if isinstance(value, Release):
                value = value.series
            elif isinstance(value, Backup):
                value = value.pk
            elif isinstance(value, str):
                value = value.strip()
            params[param.name] = value
        return params

    def first_error(self) -> tuple[str, str]:
        """(field, message) of the first thing the form refuses."""
        field, errors = next(iter(self.errors.items()))
        return field, " ".join(errors)


def _label(param: Param) -> str:
    return param.name.replace("_", " ").capitalize()


def _release(form: JobLaunchForm, param: Param) -> forms.Field:
    return forms.ModelChoiceField(
        Release.objects.all(),
        required=param.required,
        to_field_name="series",
        label=_label(param),
        help_text=param.help,
    )


def _backup(form: JobLaunchForm, param: Param) -> forms.Field:
    backups = Backup.objects.filter(cloud=form.cloud, state=BackupState.VERIFIED).order_by("-taken_at", "-id")
    help_text = param.help
    if form.spec.rolls_back and form.cloud is not None:
        # Only what a rollback takes: a backup an upgrade took before it moved the cloud on.
        backups = backups.filter(pk__in=[b.pk for b in rollback_backups(form.cloud)])
        help_text = "a verified backup an upgrade took before it changed release"
    field = forms.ModelChoiceField(
        backups,
        required=param.required,
        label=_label(param),
        help_text=help_text,
        empty_label="choose a verified backup",
    )
    field.label_from_instance = _backup_choice
    return field


def _cell(form: JobLaunchForm, param: Param) -> forms.Field:
    cells = list(form.cloud.cells.order_by("name").values_list("name", flat=True)) if form.cloud else []
    return forms.ChoiceField(
        choices=[("", "default")] + [(c, c) for c in cells],
        required=param.required,
        label=_label(param),
        help_text=param.help,
    )


def _choice(form: JobLaunchForm, param: Param) -> forms.Field:
    return forms.ChoiceField(
        choices=[(c, c) for c in param.choices],
        required=param.required,
        initial=param.default,
        label=_label(param),
        help_text=param.help,
    )


def _name(form: JobLaunchForm, param: Param) -> forms.Field:
    return forms.CharField(
        required=param.required,
        max_length=param.max_length,
        initial=param.default,
        label=_label(param),
        help_text=param.help,
    )


def _number(form: JobLaunchForm, param: Param) -> forms.Field:
    return forms.FloatField(
        required=param.required,
        min_value=param.minimum,
        max_value=param.maximum,
        label=_label(param),
        help_text=param.help,
    )


def _boolean(form: JobLaunchForm, param: Param) -> forms.Field:
    return forms.BooleanField(required=False, label=_label(param), help_text=param.help)


# Each parameter type of runner.params and the form field that holds it.
FIELD_TYPES = {
    "release": _release,
    "backup": _backup,
    "cell": _cell,
    "choice": _choice,
    "name": _name,
    "number": _number,
    "boolean": _boolean,
}


def _backup_choice(backup: Backup) -> str:
    label = f" {backup.label}" if backup.label else ""
    return (
        f"#{backup.pk} {backup.kind}{label} · {backup.release or 'no release'} · "
        f"{backup.taken_at:%Y-%m-%d %H:%M} UTC · {filesizeformat(backup.size)}"
    )
