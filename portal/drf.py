"""Bridging Django's validation errors (raised by services) to DRF's 400 answers."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """The same messages, keyed by field when the service named one."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
