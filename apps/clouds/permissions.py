"""The one permission check for clouds and everything that belongs to one.

Pages, API views and WebSocket consumers all ask :func:`can` or fetch with
:func:`get_cloud_for`, so the rule lives in one place: team members (any role)
see every cloud; operators act on them; admins change their definition.
Outsiders (logged in, no role) see none.
"""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.roles import Role, has_role, is_member
from apps.clouds.models import Cloud


class CloudAction(StrEnum):
    """What a user wants to do with a cloud."""

    VIEW = "view"
    OPERATE = "operate"  # plan and launch jobs, cancel them
    APPROVE = "approve"
    ADMINISTER = "administer"  # change the cloud's definition, import inventories


_REQUIRED_ROLE = {
    CloudAction.OPERATE: Role.OPERATOR,
    CloudAction.APPROVE: Role.APPROVER,
    CloudAction.ADMINISTER: Role.ADMIN,
}


def can(user, action: CloudAction, cloud: Cloud | None = None) -> bool:
    """Whether ``user`` may do ``action`` on ``cloud`` (or on clouds in general)."""
    if not is_member(user):
        return False
    role = _REQUIRED_ROLE.get(action)
    return role is None or has_role(user, role)


def clouds_for(user) -> QuerySet[Cloud]:
    """The clouds ``user`` may see."""
    return Cloud.objects.all() if can(user, CloudAction.VIEW) else Cloud.objects.none()


def get_cloud_for(user, slug: str, action: CloudAction = CloudAction.VIEW) -> Cloud:
    """Fetch a cloud for ``user``: 404 if they may not see it, 403 if they may not do ``action``."""
    try:
        cloud = clouds_for(user).select_related("release").get(slug=slug)
    except Cloud.DoesNotExist:
        raise Http404(f"No cloud named {slug!r} that you can see.") from None
    if not can(user, action, cloud):
        raise PermissionDenied(f"You need the {_REQUIRED_ROLE[action].value} role to {action.value} {slug}.")
    return cloud
