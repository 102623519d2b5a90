"""DRF glue: Django's validation errors (raised by services) as 400 answers, and a JSON parser."""

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    """The same messages, keyed by field when the service named one."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class JSONParser(BaseParser):
    """JSON bodies through orjson, which refuses nesting deeper than 1,024 levels.

    The standard library's parser recurses until Python's stack limit: a body nested 100,000
    deep was a 500. Here any unreadable body is a 400 that says why.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
