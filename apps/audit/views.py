"""The audit trail page and its CSV and JSON exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.audit.filters import AuditEntryFilterSet
from apps.audit.models import AuditEntry
from apps.audit.permissions import entries_for, may_read_audit

PAGE = 50
# An export holds at most this many entries (the newest that match); narrow the filters for more.
EXPORT_LIMIT = 50_000
EXPORT_FIELDS = (
    "id",
    "created_at",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "cloud_slug",
    "request_id",
    "source_address",
    "detail",
    "prev_hash",
    "hash",
)


def _filtered(request: HttpRequest) -> tuple[AuditEntryFilterSet, object]:
    if not may_read_audit(request.user):
        raise PermissionDenied("The audit trail is for members of the operations team.")
    filterset = AuditEntryFilterSet(request.GET, queryset=entries_for(request.user))
    return filterset, filterset.qs if filterset.is_valid() else AuditEntry.objects.none()


def audit_list(request: HttpRequest) -> HttpResponse:
    """Entries newest first, filtered, in keyset pages (``?before=<id>``)."""
    filterset, entries = _filtered(request)
    entries = entries.order_by("-id")
    before = request.GET.get("before", "")
    if before.isascii() and before.isdigit() and len(before) < 19:
        entries = entries.filter(id__lt=int(before))
    page = list(entries[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    params = request.GET.copy()
    params.pop("before", None)
    export_query = params.urlencode()
    if more:
        params["before"] = page[-1].id
    return render(
        request,
        "audit/audit_list.html",
        {
            "filterset": filterset,
            "entries": page,
            "next_query": params.urlencode() if more else "",
            "export_query": export_query,
            "export_limit": EXPORT_LIMIT,
        },
        status=400 if filterset.errors else 200,
    )


def _rows(entries) -> Iterator[dict]:
    for entry in entries.order_by("-id")[:EXPORT_LIMIT].iterator(chunk_size=2000):
        yield {name: getattr(entry, name) for name in EXPORT_FIELDS}


class _Echo:
    """A file that hands back what is written to it, for csv.writer in a streamed answer."""

    def write(self, value: str) -> str:
        return value


def _spreadsheet_safe(value: object) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; names people type are data.
    text = value if isinstance(value, str) else json.dumps(value, cls=DjangoJSONEncoder)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audit_export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """The filtered entries (newest first, at most ``EXPORT_LIMIT``) as CSV or JSON, streamed."""
    filterset, entries = _filtered(request)
    if filterset.errors:
        return HttpResponse(json.dumps(filterset.errors), status=400, content_type="application/json")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow(EXPORT_FIELDS)
            for row in _rows(entries):
                yield writer.writerow(
                    [
                        row["created_at"].isoformat()
                        if name == "created_at"
                        else _spreadsheet_safe(row[name])
                        for name in EXPORT_FIELDS
                    ]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    else:

        def chunks() -> Iterator[str]:
            yield "["
            for n, row in enumerate(_rows(entries)):
                yield ("," if n else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder)
            yield "\n]\n"

        response = StreamingHttpResponse(chunks(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="ferry-audit-{stamp}.{fmt}"'
    return response
