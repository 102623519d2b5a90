from __future__ import annotations

from django.db import models

from apps.clouds.models import Cloud


class BackupKind(models.TextChoices):
    FULL = "full", "full"
    INCREMENTAL = "incremental", "incremental"


class BackupState(models.TextChoices):
    VERIFIED = "verified", "verified"
    FAILED = "failed", "failed"
    MISSING = "missing", "missing"


class Backup(models.Model):
    """One database backup of a cloud, as Ferry holds it: where it came from and Ferry's own copy.

    A backup is ``verified`` only once Ferry has recomputed the checksum of its own copy (under
    ``FERRY_BACKUP_DIR``) and found the one the database node recorded. Restores take a verified
    backup by id; an incremental one needs its whole chain (``parent``, a full backup) verified too.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="backups")
    kind = models.CharField(max_length=16, choices=BackupKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="increments"
    )
    release = models.CharField(max_length=16, blank=True, help_text="the release the cloud ran when taken")
    label = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step = models.ForeignKey("jobs.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    taken_at = models.DateTimeField(help_text="when the database node took it")
    node = models.CharField(max_length=255, help_text="the database node the backup was taken on")
    name = models.CharField(max_length=200, help_text="its name on the node, in the mariadb_backup volume")
    store_path = models.CharField(
        max_length=500, blank=True, help_text="Ferry's copy, under FERRY_BACKUP_DIR"
    )
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    includes_config = models.BooleanField(default=False)
    config_sha256 = models.CharField(
        max_length=64,
        blank=True,
        help_text="of config.tar.gz: globals, passwords (encrypted), inventory, configuration files",
    )
    state = models.CharField(max_length=16, choices=BackupState.choices)
    problem = models.CharField(max_length=500, blank=True, help_text="why it is not verified")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="one_backup_per_name")]
        indexes = [models.Index(fields=["cloud", "-taken_at"], name="backup_newest_first")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.cloud} {self.taken_at:%Y-%m-%d %H:%M}"
