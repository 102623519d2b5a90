"""Pagination shared by every list endpoint: keyset on the primary key, no COUNT."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Cursor (keyset) pagination ordered by id; never counts the table."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404; it is bad input, so 400 naming the field.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["is not a cursor this API gave out"]}) from None


class NewestFirstPagination(IdCursorPagination):
    """The same keyset, newest first."""

    ordering = "-id"
