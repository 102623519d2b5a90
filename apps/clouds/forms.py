from django import forms

from apps.catalog.models import Release
from apps.clouds.models import Cloud, FileArea
from portal.forms import KeepsUnchangedText, TextareaField


class CloudForm(KeepsUnchangedText, forms.ModelForm):
    """Define or change a cloud. Passwords are write-only: leave blank to keep the stored ones."""

    release = forms.ModelChoiceField(
        Release.objects.all(), required=False, to_field_name="series", empty_label="(not deployed yet)"
    )
    passwords_yml = TextareaField(
        label="passwords.yml",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Stored encrypted and never shown again. Leave blank to keep the stored passwords.",
    )
    clear_passwords = forms.BooleanField(required=False, help_text="Remove the stored passwords.")

    class Meta:
        model = Cloud
        fields = [
            "slug",
            "region",
            "description",
            "release",
            "distro",
            "distro_version",
            "arch",
            "container_engine",
            "globals_yml",
        ]
        widgets = {
            "globals_yml": forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "ferry-code"})
        }
        field_classes = {"globals_yml": TextareaField}
        help_texts = {"globals_yml": "kolla-ansible globals.yml; comments are kept."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.release_id:
            # The select's options are series, not primary keys: preselect by series.
            self.initial["release"] = self.instance.release.series

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        release = data.pop("release")
        data["release"] = release.series if release else ""
        passwords, clear = data.pop("passwords_yml"), data.pop("clear_passwords")
        if clear:
            data["passwords_yml"] = ""
        elif passwords:
            data["passwords_yml"] = passwords
        return data


class InventoryImportForm(forms.Form):
    """Upload a kolla-ansible inventory: an INI file, or a .zip/.tar.gz of a directory with group_vars/."""

    inventory = forms.FileField(
        help_text="INI file, or .zip/.tar.gz of a directory holding it and group_vars/"
    )
    globals = forms.FileField(required=False, label="globals.yml")
    release = forms.ModelChoiceField(
        Release.objects.all(), required=False, to_field_name="series", empty_label="(keep current)"
    )
    confirm = forms.BooleanField(
        label="Replace every host, group and cell of this cloud with this inventory",
        help_text="The import is all or nothing: a bad inventory changes nothing.",
    )


class CloudFileForm(forms.Form):
    """Add or replace one configuration file of a cloud."""

    area = forms.ChoiceField(choices=FileArea.choices)
    path = forms.CharField(
        max_length=1000,
        strip=False,
        help_text="relative to the area: nova.conf, nova/nova-compute.conf, haproxy.pem, 50-tls.yml",
    )
    file = forms.FileField(help_text="A file at the same area and path is replaced.")


class ConfigTreeImportForm(forms.Form):
    """Upload a .tar.gz of a kolla config dir (/etc/kolla) to replace the cloud's configuration files."""

    archive = forms.FileField(help_text=".tar.gz of /etc/kolla (or of its content)")
    confirm = forms.BooleanField(
        label="Replace every configuration file of this cloud "
        "(and globals.yml, passwords.yml if the archive has them)",
        help_text="All or nothing: a bad member refuses the whole archive and changes nothing.",
    )
