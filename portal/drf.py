"""Bridging Django's validation errors (raised by services) to DRF's 400 answers; shared fields."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from portal.forms import lf_line_endings


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """The same messages, keyed by field when the service named one."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class MultilineCharField(serializers.CharField):
    """Multi-line text (notes, YAML) kept as sent: not stripped, with LF line breaks.

    The browsable API's form sends a textarea back with CRLF line breaks; text that differs from
    the stored text only in its line breaks keeps the stored text byte for byte.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("style", {"base_template": "textarea.html"})
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        stored = getattr(getattr(self.parent, "instance", None), self.source, None)
        if isinstance(stored, str) and lf_line_endings(stored) == lf_line_endings(value):
            return stored
        return lf_line_endings(value)
