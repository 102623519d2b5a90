"""Writing the audit history. Every service function that changes state calls `record`."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.audit.models import AuditEntry


def record(
    actor,
    action: str,
    obj: models.Model | None = None,
    *,
    cloud_slug: str = "",
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Append one audit entry for ``actor`` doing ``action`` to ``obj``.

    ``actor`` may be None for Ferry's own actions (the reaper, a schedule);
    ``actor_name`` names an actor who is no user (an anonymous login attempt).
    Call it inside the same transaction as the change it describes, so the
    history and the state never disagree.
    """
    authenticated = actor is not None and actor.is_authenticated
    if actor_name is None:
        actor_name = actor.get_username() if authenticated else "ferry"
    if obj is not None and not cloud_slug:
        cloud_slug = _cloud_slug_of(obj)
    return AuditEntry.objects.create(
        actor=actor if authenticated else None,
        actor_name=actor_name,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        cloud_slug=cloud_slug,
        detail=detail or {},
    )


def _cloud_slug_of(obj: models.Model) -> str:
    cloud = obj if obj._meta.label_lower == "clouds.cloud" else getattr(obj, "cloud", None)
    return getattr(cloud, "slug", "") or ""
