"""Roles of the operations team and the questions every permission check asks.

A global role is a Django group of the same name and applies to every cloud; a
membership (``apps.clouds.models.CloudMembership``) gives a role on one cloud only.
Roles are not a ladder: an approver approves what operators ask for, and an admin
may do everything. A user with no role anywhere (an outsider) can log in but sees
no cloud.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group


class Role(StrEnum):
    """The four roles of the team, as group names."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"


ROLE_DESCRIPTIONS = {
    Role.VIEWER: "reads clouds, jobs and history",
    Role.OPERATOR: "plans and launches jobs, cancels them",
    Role.APPROVER: "approves or rejects what operators ask for",
    Role.ADMIN: "manages users, catalogs and settings; may do everything",
}


def ensure_role_groups() -> None:
    """Create the role groups if they do not exist yet."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The roles a user holds; a superuser holds them all. Cached on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_ferry_roles", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = frozenset(Role)
    else:
        names = set(user.groups.values_list("name", flat=True))
        roles = frozenset(role for role in Role if role.value in names)
        if Role.ADMIN in roles:
            roles = frozenset(Role)
    user._ferry_roles = roles
    return roles


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    """Whether ``user`` holds ``role`` (admins hold every role)."""
    return role in roles_of(user)


def is_member(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether ``user`` belongs to the team: a global role, or a role on at least one cloud."""
    return bool(roles_of(user)) or bool(cloud_roles_of(user))


def cloud_roles_of(user: AbstractBaseUser | AnonymousUser) -> dict[int, frozenset[Role]]:
    """The roles ``user`` holds on single clouds, by cloud id (memberships). Cached on the user object."""
    if not user.is_authenticated:
        return {}
    cached = getattr(user, "_ferry_cloud_roles", None)
    if cached is not None:
        return cached
    held: dict[int, set[Role]] = {}
    for cloud_id, role in user.cloud_memberships.values_list("cloud_id", "role"):
        held.setdefault(cloud_id, set()).add(Role(role))
    roles = {cloud_id: frozenset(Role) if Role.ADMIN in r else frozenset(r) for cloud_id, r in held.items()}
    user._ferry_cloud_roles = roles
    return roles
