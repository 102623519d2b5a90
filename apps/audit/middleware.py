"""Give every HTTP request and WebSocket connection its audit context (request id, client address)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.audit.context import (
    REQUEST_ID_HEADER,
    AuditContext,
    context_from_scope,
    enter,
    leave,
    new_request_id,
    request_address,
    sane_request_id,
)


class AuditContextMiddleware:
    """Take the request id from ``X-Request-ID`` when it is sane (else make one), find the client's
    address, hold both for the audit entries the request writes and answer with the request id.

    First in the chain, so that even a request refused early carries its id back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = request_id
        token = enter(AuditContext(request_id=request_id, source_address=request_address(request)))
        try:
            response = self.get_response(request)
        finally:
            leave(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AuditContextASGIMiddleware:
    """The same for WebSocket connections: whatever a consumer records carries the connection's
    request id and client address."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        token = enter(context_from_scope(scope))
        try:
            return await self.inner(scope, receive, send)
        finally:
            leave(token)
