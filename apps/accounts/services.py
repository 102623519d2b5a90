"""Logins in the audit trail: who logged in or failed to, from which address.

Every way into Ferry (the login page, the admin's login page) goes through
``django.contrib.auth``, which announces logins and failed attempts only by its
signals; ``AccountsConfig.ready`` connects these functions to them. Password
guessing itself is throttled by django-axes (``AXES_*`` in settings).
"""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.http import HttpRequest

from apps.audit.services import record


def _address(request: HttpRequest | None) -> str:
    return (get_client_ip_address(request) if request is not None else None) or ""


def record_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Audit a successful login of ``user`` with the address it came from."""
    record(user, "auth.login", detail={"address": _address(request)})


def record_login_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    """Audit a failed login (wrong password, or refused while locked out); never the password."""
    username = str(credentials.get("username", ""))[:150]
    record(
        None,
        "auth.login_failed",
        actor_name="anonymous",
        detail={"username": username, "address": _address(request)},
    )
