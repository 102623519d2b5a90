"""DRF glue: Django's validation errors (raised by services) as 400 answers, a JSON parser that
refuses deep nesting, and shared fields."""

from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError

from portal.forms import lf_line_endings


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """The same messages, keyed by field when the service named one."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class JSONParser(parsers.JSONParser):
    """JSON bodies through orjson, which refuses nesting deeper than 1,024 levels.

    The standard library's parser recurses until Python's stack limit: a body nested 100,000
    deep was a 500. Here any unreadable body is a 400 that says why.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error: {exc}") from None


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
