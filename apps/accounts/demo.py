"""Demo data for the embedded shape: one user per role, idempotent."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from apps.accounts.roles import Role, ensure_role_groups

DEMO_PASSWORD_SUFFIX = "-demo-pass"


def demo_logins() -> list[tuple[str, str, Role]]:
    """(username, password, role) of every demo user."""
    return [(role.value, f"{role.value}{DEMO_PASSWORD_SUFFIX}", role) for role in Role]


@transaction.atomic
def ensure_demo_users() -> list[tuple[str, str, Role]]:
    """Create or reset the demo users; running it twice changes nothing more."""
    ensure_role_groups()
    User = get_user_model()
    logins = demo_logins()
    for username, password, role in logins:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@ferry.invalid"}
        )
        if created or not user.check_password(password):
            user.set_password(password)
        user.is_staff = role is Role.ADMIN
        user.is_superuser = role is Role.ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
    return logins
