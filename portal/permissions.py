"""DRF permission classes built on the one permission function of each object type."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.accounts.roles import Role, has_role, is_member


class ReadMembersWriteAdmins(BasePermission):
    """Team members read; only admins write (catalog data, cloud definitions)."""

    message = "Reading needs a team role; changing this needs the admin role."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return is_member(request.user)
        return has_role(request.user, Role.ADMIN)


class ReadMembersWriteChecked(BasePermission):
    """Team members read; writes are for members too, and the view checks the cloud they touch.

    For objects of one cloud, whose admins (global or of that cloud only) may change them: the
    view fetches the cloud with ``get_cloud_for(..., CloudAction.ADMINISTER)``.
    """

    message = "This needs a team role."

    def has_permission(self, request, view) -> bool:
        return is_member(request.user)


class IsMember(BasePermission):
    """Any team role: the API's schema and docs describe the clouds' operations."""

    message = "This needs a team role."

    def has_permission(self, request, view) -> bool:
        return is_member(request.user)


class IsAdmin(BasePermission):
    """The admin role: diagnostics enqueue work on the workers."""

    message = "This needs the admin role."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, Role.ADMIN)
