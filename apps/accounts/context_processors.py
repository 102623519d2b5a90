"""Template context shared by every page."""

from apps.accounts.roles import Role, roles_of


def roles(request) -> dict:
    """Expose the current user's roles as ``ferry_roles`` (a set of role names)."""
    held = roles_of(request.user)
    return {"ferry_roles": {role.value for role in held}, "Role": Role}
