"""The approvals queue's count in the navigation."""

from functools import partial

from apps.approvals.services import awaiting_for


def _count(user) -> int:
    return awaiting_for(user).count()


def pending_approvals(request) -> dict:
    """``pending_approvals``: how many jobs the user may approve now. A callable, so the one query
    runs only on pages that show it (base.html), never on the partials htmx polls."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"pending_approvals": 0}
    return {"pending_approvals": partial(_count, user)}
