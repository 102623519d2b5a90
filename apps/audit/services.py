"""Writing the audit history. Every service function that changes state calls `record`."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from apps.audit import chain
from apps.audit.context import current
from apps.audit.models import AuditEntry

# Any constant will do: it names the chain's lock among PostgreSQL's advisory locks.
CHAIN_LOCK_KEY = 0x46455252_41554454  # "FERRAUDT"


def record(
    actor,
    action: str,
    obj: models.Model | None = None,
    *,
    cloud_slug: str = "",
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Append one audit entry for ``actor`` doing ``action`` to ``obj``, at the head of the chain.

    ``actor`` may be None for Ferry's own actions (the reaper, a schedule);
    ``actor_name`` names an actor who is no user (an anonymous login attempt).
    The request id and source address come from the current audit context
    (``apps.audit.context``). Call it inside the same transaction as the change
    it describes, so the history and the state never disagree: the chain's lock
    is then held until that transaction ends, so two writers never fork the chain.
    """
    authenticated = actor is not None and actor.is_authenticated
    if actor_name is None:
        actor_name = actor.get_username() if authenticated else "ferry"
    if obj is not None and not cloud_slug:
        cloud_slug = _cloud_slug_of(obj)
    context = current()
    # Stored as JSON and read back as JSON: hash exactly what a later read will see.
    detail = json.loads(json.dumps(detail or {}, default=str))
    entry = AuditEntry(
        actor=actor if authenticated else None,
        actor_name=actor_name[:150],
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        cloud_slug=cloud_slug,
        detail=detail,
        request_id=context.request_id,
        source_address=context.source_address,
    )
    with transaction.atomic():
        _lock_chain()
        entry.created_at = timezone.now()  # under the lock: times never run backwards along the chain
        entry.prev_hash = chain_head()
        entry.hash = chain.entry_hash(chain.fields_of(entry))
        entry.save(force_insert=True)
    return entry


def _lock_chain() -> None:
    """Serialize appends until the caller's transaction ends.

    On PostgreSQL a transaction-scoped advisory lock; on SQLite Ferry's transactions begin
    IMMEDIATE, which already holds the database's one write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_head() -> str:
    """The hash of the newest entry, or the genesis hash when there is none."""
    head = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    return head or chain.GENESIS


def _cloud_slug_of(obj: models.Model) -> str:
    cloud = obj if obj._meta.label_lower == "clouds.cloud" else getattr(obj, "cloud", None)
    return getattr(cloud, "slug", "") or ""


def row_snapshot(obj: models.Model) -> dict[str, Any]:
    """A row as an audit entry shows it: its stored fields, many-to-many members by name, and the
    values of secret-named variables masked."""
    from runner.secret_vars import hide_secrets, hide_secrets_in_yaml

    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or getattr(field, "auto_now", False):
            continue
        value = getattr(obj, field.attname)
        if field.name == "passwords_encrypted":
            value = "(encrypted)" if value else ""
        elif field.name == "globals_yml":
            value = hide_secrets_in_yaml(value)
        elif isinstance(field, models.JSONField):
            value = hide_secrets(value)
        values[field.name] = value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            values[field.name] = sorted(str(o) for o in getattr(obj, field.name).all())
    return json.loads(json.dumps(values, default=str))


def record_row_change(actor, obj: models.Model, before: dict[str, Any] | None) -> AuditEntry | None:
    """Audit a row created (``before`` None) or changed, with the fields that differ before and
    after; nothing when nothing differs. For edits that do not go through a domain service (the
    admin's forms for cells, hosts, inventory groups and inline rows)."""
    after = row_snapshot(obj)
    name = obj._meta.model_name
    if before is None:
        return record(actor, f"{name}.create", obj, detail={"after": after})
    changed = sorted(k for k in after if before.get(k) != after[k])
    if not changed:
        return None
    return record(
        actor,
        f"{name}.update",
        obj,
        detail={
            "changed": changed,
            "before": {k: before.get(k) for k in changed},
            "after": {k: after[k] for k in changed},
        },
    )


def record_row_delete(actor, obj: models.Model) -> AuditEntry:
    """Audit a row about to be deleted, with what it was. Call it before the delete, in its transaction."""
    return record(actor, f"{obj._meta.model_name}.delete", obj, detail={"before": row_snapshot(obj)})
