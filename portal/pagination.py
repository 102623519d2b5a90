"""Pagination shared by every list endpoint: keyset on the primary key, no COUNT."""

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Cursor (keyset) pagination ordered by id; never counts the table."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


class NewestFirstPagination(IdCursorPagination):
    """The same keyset, newest first."""

    ordering = "-id"
