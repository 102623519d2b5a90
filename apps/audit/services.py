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
