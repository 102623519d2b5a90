from rest_framework import serializers

from apps.clouds.models import Cell, Cloud, Host


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


class CellSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    host_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Cell
        fields = ["id", "cloud", "name", "group", "database_name", "console_ports", "variables", "host_count"]


class HostSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cell = serializers.SlugRelatedField(slug_field="name", read_only=True)
    groups = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

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
        ]


class InventoryImportSerializer(serializers.Serializer):
    """An uploaded kolla-ansible inventory: an INI file, or a .zip/.tar.gz of a directory with group_vars/."""

    inventory = serializers.FileField()
    globals = serializers.FileField(required=False, help_text="globals.yml")
    release = serializers.CharField(required=False, allow_blank=True)
