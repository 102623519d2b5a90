"""Who holds which role on one cloud: granting and revoking memberships, audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.roles import Role
from apps.audit.services import record
from apps.clouds.models import Cloud, CloudMembership
from apps.clouds.permissions import CloudAction, can


def _require_admin(actor, cloud: Cloud) -> None:
    if not can(actor, CloudAction.ADMINISTER, cloud):
        raise PermissionDenied(f"You need the admin role on {cloud.slug} to change who may use it.")


@transaction.atomic
def grant_membership(actor, cloud: Cloud, username: str, role: str) -> CloudMembership:
    """Give ``username`` the role ``role`` on ``cloud`` only; an admin of the cloud grants it.

    Granting a role the user already holds there changes nothing and writes no entry.
    """
    _require_admin(actor, cloud)
    if role not in {r.value for r in Role}:
        raise ValidationError({"role": f"unknown role {str(role)[:32]!r}; one of {', '.join(Role)}"})
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": f"no active user named {str(username)[:150]!r}"})
    membership, created = CloudMembership.objects.get_or_create(
        cloud=cloud, user=user, role=role, defaults={"granted_by": actor if actor.is_authenticated else None}
    )
    if created:
        record(actor, "cloud.member_granted", cloud, detail={"user": user.get_username(), "role": role})
    return membership


@transaction.atomic
def revoke_membership(actor, cloud: Cloud, membership_id: int) -> None:
    """Take one role on ``cloud`` away from a user; an admin of the cloud revokes it."""
    _require_admin(actor, cloud)
    membership = CloudMembership.objects.select_related("user").filter(cloud=cloud, pk=membership_id).first()
    if membership is None:
        raise ValidationError({"membership": f"no membership #{membership_id} on {cloud.slug}"})
    membership.delete()
    record(
        actor,
        "cloud.member_revoked",
        cloud,
        detail={"user": membership.user.get_username(), "role": membership.role},
    )
