"""The API's exception handler: DRF's, plus answers for errors that would otherwise be a 500."""

from django.db.models import ProtectedError, RestrictedError
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus: deleting what other rows still use is bad input (400), not a 500."""
    if isinstance(exc, ProtectedError | RestrictedError):
        users = sorted({obj._meta.verbose_name for obj in exc.protected_objects if hasattr(obj, "_meta")})
        exc = ValidationError(
            {
                "detail": f"still in use by {len(exc.protected_objects)} {', '.join(users) or 'object'}(s); "
                "remove those first"
            }
        )
    return drf_exception_handler(exc, context)
