from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntryImmutable(Exception):
    """Raised on any attempt to change or delete an audit entry: the history is append-only."""


class AuditEntryQuerySet(models.QuerySet):
    """Audit entries are appended by ``apps.audit.services.record`` only, and never changed."""

    def update(self, **kwargs):
        raise AuditEntryImmutable("Audit entries are append-only: they cannot be updated.")

    def delete(self):
        raise AuditEntryImmutable("Audit entries are append-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditEntryImmutable("Audit entries are append-only: they cannot be updated.")

    def bulk_create(self, objs, *args, **kwargs):
        # Entries enter the hash chain one by one, under its lock; see services.record.
        raise AuditEntryImmutable("Audit entries are appended one by one through services.record.")


class AuditEntry(models.Model):
    """One thing a person (or Ferry on their behalf) did: who, what, to which object, when, from
    which address and in which request.

    Entries are written explicitly by service functions through ``apps.audit.services.record``,
    never by signals, so bulk operations cannot skip them. They are never updated or deleted: the
    model refuses it, and on PostgreSQL so does a trigger. Each entry carries the SHA-256 hash of
    the entry before it and its own hash over its fields and that one (``apps.audit.chain``);
    ``manage.py verify_audit`` checks the chain.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint and no cascade: deleting a user must not touch the history. The id
    # stays (it is hashed) and ``actor_name`` keeps the name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, help_text="kept when the user is deleted")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    cloud_slug = models.CharField(max_length=63, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    source_address = models.CharField(max_length=45, blank=True, help_text="the client's IP address")
    prev_hash = models.CharField(max_length=64, help_text="hash of the entry before this one")
    hash = models.CharField(max_length=64, help_text="SHA-256 over this entry's fields and prev_hash")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditEntryImmutable(f"Audit entry {self.pk} is append-only: it cannot be changed.")
        if not self.hash:
            raise AuditEntryImmutable("Audit entries are appended through apps.audit.services.record.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEntryImmutable(f"Audit entry {self.pk} is append-only: it cannot be deleted.")
