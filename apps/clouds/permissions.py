"""The one permission check for clouds and everything that belongs to one.

Pages, API views, WebSocket consumers and commands all ask :func:`can` or fetch
with :func:`get_cloud_for`, so the rule lives in one place. A global role applies
to every cloud, a membership to its cloud only: viewers see, operators act,
approvers approve, admins change the definition. A user sees the clouds they hold
any role on; outsiders (no role anywhere) see none. Asked without a cloud,
:func:`can` answers for every cloud at once, so only global roles count (creating
a cloud needs the global admin role).
"""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.roles import Role, cloud_roles_of, roles_of
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


def roles_on(user, cloud: Cloud | None) -> frozenset[Role]:
    """The roles ``user`` holds on ``cloud``: global ones and the cloud's memberships."""
    held = roles_of(user)
    if cloud is not None:
        held = held | cloud_roles_of(user).get(cloud.pk, frozenset())
    return held


def can(user, action: CloudAction, cloud: Cloud | None = None) -> bool:
    """Whether ``user`` may do ``action`` on ``cloud`` (without a cloud: on every cloud)."""
    held = roles_on(user, cloud)
    if not held:
        return False
    role = _REQUIRED_ROLE.get(action)
    return role is None or role in held


def clouds_for(user) -> QuerySet[Cloud]:
    """The clouds ``user`` may see: all with a global role, else those they are a member of."""
    if roles_of(user):
        return Cloud.objects.all()
    return Cloud.objects.filter(pk__in=list(cloud_roles_of(user)))


def get_cloud_for(user, slug: str, action: CloudAction = CloudAction.VIEW) -> Cloud:
    """Fetch a cloud for ``user``: 404 if they may not see it, 403 if they may not do ``action``."""
    try:
        cloud = clouds_for(user).select_related("release").get(slug=slug)
    except Cloud.DoesNotExist:
        raise Http404(f"No cloud named {slug!r} that you can see.") from None
    if not can(user, action, cloud):
        raise PermissionDenied(f"You need the {_REQUIRED_ROLE[action].value} role to {action.value} {slug}.")
    return cloud
