"""Who is asking, from where, under which request id: what every audit entry records of its origin.

A middleware (HTTP), an ASGI wrapper (WebSockets) and the job runner (Celery) set the context;
``apps.audit.services.record`` reads it. A context variable, not a thread-local, so that it follows
a request through ``sync_to_async`` and stays apart between coroutines.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

REQUEST_ID_HEADER = "X-Request-ID"
# What a client or proxy may hand us as a request id: short, printable, nothing to escape in a log.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,63}")


@dataclass(frozen=True)
class AuditContext:
    """The origin of whatever is being done now: a request id and the client's address."""

    request_id: str = ""
    source_address: str = ""


NO_CONTEXT = AuditContext()
_current: ContextVar[AuditContext | None] = ContextVar("ferry_audit_context", default=None)


def current() -> AuditContext:
    """The context of the request, WebSocket or job being served now (empty outside any)."""
    return _current.get() or NO_CONTEXT


def enter(context: AuditContext) -> Token:
    """Make ``context`` current; hand the token back to :func:`leave`."""
    return _current.set(context)


def leave(token: Token) -> None:
    """Restore the context that was current before :func:`enter`."""
    _current.reset(token)


@contextmanager
def audit_context(request_id: str = "", source_address: str = "") -> Iterator[AuditContext]:
    """Record ``request_id`` and ``source_address`` in every audit entry written inside."""
    context = AuditContext(request_id=request_id, source_address=source_address)
    token = enter(context)
    try:
        yield context
    finally:
        leave(token)


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable request id (1-64 printable characters), else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    """A fresh request id for a request that brought none (or none we accept)."""
    return uuid.uuid4().hex


def _valid_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def client_address(remote_addr: str | None, headers: Mapping[str, str]) -> str:
    """The client's address: the peer's, or what a trusted proxy says it saw.

    ``FERRY_TRUSTED_PROXY_HEADER`` names the header a proxy in front of Ferry sets (e.g.
    ``X-Forwarded-For``); only then is any header believed, and only its last entry, the one that
    proxy added itself (anything to its left came from the client and may be forged).
    ``headers`` maps lower-case header names to values.
    """
    header = settings.FERRY_TRUSTED_PROXY_HEADER
    if header:
        forwarded = headers.get(header.lower(), "")
        if forwarded:
            address = _valid_address(forwarded.rsplit(",", 1)[-1])
            if address:
                return address
    return _valid_address(remote_addr or "")


def request_address(request: HttpRequest) -> str:
    """The client address of a Django request (also django-axes' ``AXES_CLIENT_IP_CALLABLE``)."""
    return client_address(request.META.get("REMOTE_ADDR"), {k.lower(): v for k, v in request.headers.items()})


def context_from_scope(scope: Mapping) -> AuditContext:
    """The audit context of an ASGI connection (a WebSocket): its request id and client address."""
    headers = {
        bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for name, value in scope.get("headers", [])
    }
    client = scope.get("client") or (None, None)
    request_id = sane_request_id(headers.get(REQUEST_ID_HEADER.lower())) or new_request_id()
    return AuditContext(request_id=request_id, source_address=client_address(client[0], headers))
