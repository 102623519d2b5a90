"""Bridging Django's validation errors (raised by services) to DRF's 400 answers."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """The same messages, keyed by field when the service named one."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


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
