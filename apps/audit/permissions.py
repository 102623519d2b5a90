"""The one permission check for audit entries: who may read the trail, and which entries.

Admins read every entry. Other team members read the entries of the clouds they may view
(``apps.clouds.permissions.clouds_for``) and their own; entries about no cloud (the catalog,
other people's logins) are for admins. Outsiders read none.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts.roles import Role, has_role, is_member
from apps.audit.models import AuditEntry
from apps.clouds.permissions import clouds_for


def may_read_audit(user) -> bool:
    """Whether ``user`` may open the audit trail at all (any team role)."""
    return is_member(user)


def entries_for(user) -> QuerySet[AuditEntry]:
    """The audit entries ``user`` may read."""
    if not may_read_audit(user):
        return AuditEntry.objects.none()
    if has_role(user, Role.ADMIN):
        return AuditEntry.objects.all()
    visible = clouds_for(user).values("slug")
    return AuditEntry.objects.filter(Q(cloud_slug__in=visible, cloud_slug__gt="") | Q(actor_id=user.pk))
