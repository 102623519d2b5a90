from rest_framework import serializers

from apps.backups.models import Backup


class BackupSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Backup
        fields = [
            "id",
            "cloud",
            "kind",
            "parent",
            "release",
            "label",
            "job",
            "step",
            "taken_at",
            "node",
            "name",
            "store_path",
            "size",
            "sha256",
            "includes_config",
            "config_sha256",
            "state",
            "problem",
            "created_at",
        ]
        read_only_fields = fields
