from django import forms
from django.template.defaultfilters import filesizeformat

from apps.backups.models import Backup, BackupState
from apps.catalog.models import Release
from apps.jobs.models import JobKind
from apps.jobs.services import rollback_backups
from runner.planner import KINDS


class JobLaunchForm(forms.Form):
    """Launch a job on a cloud. Mutating kinds need the confirmation box ticked."""

    kind = forms.ChoiceField(choices=JobKind.choices)
    target_release = forms.ModelChoiceField(
        Release.objects.all(),
        required=False,
        to_field_name="series",
        help_text="upgrade, fast-forward upgrade and cell rollout: the release to reach",
    )
    release = forms.ModelChoiceField(
        Release.objects.all(),
        required=False,
        to_field_name="series",
        help_text="deploy: the release to deploy; prechecks, check, pull, reconfigure, stop: which release",
    )
    canary = forms.CharField(required=False, help_text="cell rollout: the cell to upgrade first")
    backup_type = forms.ChoiceField(
        choices=[("full", "full"), ("incremental", "incremental")], required=False
    )
    backup = forms.ModelChoiceField(
        Backup.objects.none(),
        required=False,
        help_text="restore and rollback: the verified backup to bring back",
    )
    limit = forms.CharField(required=False, help_text="cells or hosts, comma-separated")
    priority = forms.IntegerField(initial=0, min_value=-100, max_value=100)
    confirm = forms.BooleanField(required=False, label="I understand this changes the cloud")

    def __init__(self, *args, cloud=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cloud is not None:
            backups = Backup.objects.filter(cloud=cloud, state=BackupState.VERIFIED)
            if (self.data.get("kind") or self.initial.get("kind")) == "rollback":
                # Only what rollback takes: a backup an upgrade took before it moved the cloud on.
                backups = backups.filter(pk__in=[b.pk for b in rollback_backups(cloud)])
                self.fields[
                    "backup"
                ].help_text = "rollback: a verified backup an upgrade took before it changed release"
            self.fields["backup"].queryset = backups
            self.fields["backup"].label_from_instance = _backup_choice

    def params(self) -> dict:
        """The chosen kind's own parameters from the form; fields of other kinds are left out."""
        data = self.cleaned_data
        declared = {p.name for p in KINDS[data["kind"]].params}
        params = {}
        for key in declared & {"target_release", "release"}:
            if data.get(key):
                params[key] = data[key].series
        for key in declared & {"canary", "backup_type"}:
            if data.get(key):
                params[key] = data[key].strip()
        if "backup" in declared and data.get("backup"):
            params["backup"] = data["backup"].pk
        return params


def _backup_choice(backup: Backup) -> str:
    label = f" {backup.label}" if backup.label else ""
    return (
        f"#{backup.pk} {backup.kind}{label} · {backup.release or 'no release'} · "
        f"{backup.taken_at:%Y-%m-%d %H:%M} UTC · {filesizeformat(backup.size)}"
    )
