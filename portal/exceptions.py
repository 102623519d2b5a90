"""The API's exception handler: DRF's, plus answers for errors that would otherwise be a 500."""

from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler as drf_exception_handler

SHOWN = 10


class InUse(Exception):
    """Refused: the object is still used by others; the message names them."""


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, plus: deleting what other rows still use is a 409 naming them, not a 500."""
    if isinstance(exc, InUse):
        exc = Conflict(str(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        users = [
            f"{obj._meta.verbose_name} {obj}"
            for obj in list(exc.protected_objects)[:SHOWN]
            if hasattr(obj, "_meta")
        ]
        more = len(exc.protected_objects) - len(users)
        named = ", ".join(users) or "other objects"
        exc = Conflict(
            f"still in use by {named}{f' and {more} more' if more > 0 else ''}; remove those first"
        )
    return drf_exception_handler(exc, context)
