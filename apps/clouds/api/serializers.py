from rest_framework import serializers

from apps.accounts.roles import Role
from apps.clouds.files import shown_content
from apps.clouds.models import Cell, Cloud, CloudFile, CloudMembership, FileArea, Host
from apps.clouds.permissions import CloudAction, can
from runner.secret_vars import hide_secrets, hide_secrets_in_yaml


def _reads_secrets(serializer: serializers.Serializer, cloud: Cloud) -> bool:
    """The cloud's admins (global or of that cloud only, who edit its definition on its page) read
    variables that hold secrets back; everyone else sees them masked."""
    request = serializer.context.get("request")
    return request is not None and can(request.user, CloudAction.ADMINISTER, cloud)


class CloudSerializer(serializers.ModelSerializer):
    """A cloud. ``passwords_yml`` is write-only: it is never read back by any API.

    As on the cloud's page, a blank ``passwords_yml`` keeps the stored passwords (a form shows it
    blank) and ``clear_passwords`` removes them.
    """

    release = serializers.CharField(source="release.series", allow_null=True, required=False, default=None)
    passwords_yml = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False
    )
    clear_passwords = serializers.BooleanField(write_only=True, required=False, default=False)
    has_passwords = serializers.BooleanField(read_only=True)
    host_count = serializers.IntegerField(read_only=True)
    cell_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Cloud
        fields = [
            "id",
            "slug",
            "region",
            "description",
            "release",
            "distro",
            "distro_version",
            "arch",
            "container_engine",
            "state",
            "globals_yml",
            "passwords_yml",
            "clear_passwords",
            "has_passwords",
            "host_count",
            "cell_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["state", "created_at", "updated_at"]
        extra_kwargs = {"globals_yml": {"trim_whitespace": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # DRF leaves a dotted source out of a partial update's answer when it is empty.
        data.setdefault("release", instance.release.series if instance.release_id else None)
        if data.get("globals_yml") and not _reads_secrets(self, instance):
            data["globals_yml"] = hide_secrets_in_yaml(data["globals_yml"])
        return data


class CellSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    host_count = serializers.IntegerField(read_only=True)
    release = serializers.SlugRelatedField(
        slug_field="series",
        read_only=True,
        allow_null=True,
        help_text="the release every host of the cell runs; null while they differ or before a deploy",
    )

    class Meta:
        model = Cell
        fields = [
            "id",
            "cloud",
            "name",
            "group",
            "database_name",
            "console_ports",
            "variables",
            "host_count",
            "release",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not _reads_secrets(self, instance.cloud):
            data["variables"] = hide_secrets(data["variables"])
        return data


class HostSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cell = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    groups = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    release = serializers.SlugRelatedField(
        slug_field="series",
        read_only=True,
        allow_null=True,
        help_text="the release a job last deployed or upgraded the host to; null before that",
    )

    class Meta:
        model = Host
        fields = [
            "id",
            "cloud",
            "cell",
            "name",
            "address",
            "groups",
            "variables",
            "state",
            "facts",
            "facts_updated_at",
            "release",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not _reads_secrets(self, instance.cloud):
            data["variables"] = hide_secrets(data["variables"])
        return data


class InventoryImportSerializer(serializers.Serializer):
    """An uploaded kolla-ansible inventory: an INI file, or a .zip/.tar.gz of a directory with group_vars/."""

    inventory = serializers.FileField()
    globals = serializers.FileField(required=False, help_text="globals.yml")
    release = serializers.CharField(required=False, allow_blank=True)


class CloudFileSerializer(serializers.ModelSerializer):
    """A configuration file of a cloud: where kolla reads it, its size and sha256.

    On a single file, ``content`` is its text: for a secret file (private key, keyring) only admins
    read it (others get null and ``content_hidden``); non-admins see other files with secret-named
    values and URL passwords masked. Binary content is null.
    """

    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    relative_path = serializers.CharField(read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = CloudFile
        fields = [
            "id",
            "cloud",
            "area",
            "path",
            "relative_path",
            "size",
            "sha256",
            "secret",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields


class CloudFileDetailSerializer(CloudFileSerializer):
    content = serializers.SerializerMethodField()
    content_hidden = serializers.SerializerMethodField()

    class Meta(CloudFileSerializer.Meta):
        fields = [*CloudFileSerializer.Meta.fields, "content", "content_hidden"]
        read_only_fields = fields

    def get_content(self, instance) -> str | None:
        return shown_content(instance, _reads_secrets(self, instance.cloud))

    def get_content_hidden(self, instance) -> bool:
        return instance.secret and not _reads_secrets(self, instance.cloud)


class CloudFileUploadSerializer(serializers.Serializer):
    """Add or replace one file: its area and path, and either an uploaded ``file`` or text ``content``."""

    area = serializers.ChoiceField(choices=FileArea.choices)
    path = serializers.CharField(max_length=1000, trim_whitespace=False)
    file = serializers.FileField(required=False)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs):
        if ("file" in attrs) == ("content" in attrs):
            raise serializers.ValidationError({"file": "give either file or content, not both nor neither"})
        return attrs


class ConfigTreeImportSerializer(serializers.Serializer):
    """A .tar.gz of a kolla config dir (/etc/kolla): its globals.d/, config/ and certificates/
    replace the cloud's files, and its globals.yml and passwords.yml, when present, the cloud's."""

    archive = serializers.FileField()


class CloudMembershipSerializer(serializers.ModelSerializer):
    """A role one user holds on one cloud. Write with ``username`` and ``role``."""

    username = serializers.CharField(source="user.username", max_length=150)
    role = serializers.ChoiceField(choices=[r.value for r in Role])
    granted_by = serializers.CharField(source="granted_by.username", read_only=True, default=None)

    class Meta:
        model = CloudMembership
        fields = ["id", "username", "role", "granted_by", "granted_at"]
        read_only_fields = ["id", "granted_by", "granted_at"]


def _from_to(fields: dict) -> dict:
    """``from_release``/``to_release`` named ``from``/``to`` as the plan preview names them
    (``from`` is a Python keyword, so no declared field can carry the name)."""
    return {{"from_release": "from", "to_release": "to"}.get(name, name): f for name, f in fields.items()}


class ReleaseHopSerializer(serializers.Serializer):
    """One hop of a release change: the series it left, the one it reached, and when."""

    from_release = serializers.CharField(
        source="from_release.series", allow_null=True, help_text="empty: the cloud ran no release before"
    )
    to_release = serializers.CharField(source="to_release.series")
    at = serializers.DateTimeField(help_text="when the step that completes the release succeeded")

    def get_fields(self):
        return _from_to(super().get_fields())


class ReleaseChangeRowSerializer(serializers.Serializer):
    """One completed release change of a cloud (apps.clouds.history.HistoryRow), newest first."""

    job = serializers.IntegerField(source="job_id", allow_null=True, help_text="the job that made it")
    kind = serializers.CharField(help_text="the job's kind; empty when the job is gone")
    state = serializers.CharField(help_text="the job's state now; empty when the job is gone")
    direction = serializers.ChoiceField(
        choices=["first", "up", "down"],
        help_text="first: a deploy that set the first release; up: an upgrade; down: a rollback",
    )
    from_release = serializers.CharField(
        source="from_release.series", allow_null=True, help_text="empty: a deploy that set the first release"
    )
    to_release = serializers.CharField(source="to_release.series", help_text="the release it ended at")
    path = serializers.ListField(
        child=serializers.CharField(), help_text="every series the cloud ran, in order: 2023.1, 2024.1…"
    )
    hops = ReleaseHopSerializer(many=True)
    started = serializers.DateTimeField(allow_null=True, help_text="when the job's first step started")
    finished = serializers.DateTimeField(allow_null=True, help_text="empty while the job runs or waits")
    duration_seconds = serializers.SerializerMethodField()
    requested_by = serializers.CharField(allow_null=True)
    approved_by = serializers.ListField(
        child=serializers.CharField(), help_text="usernames of who approved the job"
    )

    def get_fields(self):
        return _from_to(super().get_fields())

    def get_duration_seconds(self, row) -> float | None:
        return row.duration.total_seconds() if row.duration is not None else None
