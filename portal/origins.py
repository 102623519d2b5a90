"""The WebSocket origin check: the page's own origin (scheme, host and port) or a trusted one.

Channels' ``AllowedHostsOriginValidator`` compares host names only, so a page served on any other
port of an allowed host (another service on the same machine) could open Ferry's WebSockets with
the user's cookies. This applies the rule Django's CSRF check applies to forms: the ``Origin``
header must be exactly the origin the request was sent to, or one of ``CSRF_TRUSTED_ORIGINS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, default ports filled in; None if it is not one."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[parts.scheme]


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin1")
    return None


def _is_secure(scope: dict) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, value = proxy
        name = header.removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = _header(scope, name)
        return forwarded is not None and forwarded.split(",")[0].strip() == value
    return False


def origin_allowed(scope: dict) -> bool:
    """Whether a WebSocket handshake comes from Ferry's own pages (or a trusted origin)."""
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or not host:
        return False
    parsed = normalize_origin(origin)
    if parsed is None:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    own = normalize_origin(f"{'https' if _is_secure(scope) else 'http'}://{host}")
    trusted = {normalize_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS}
    return parsed == own or parsed in trusted - {None}


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403 at the handshake) WebSockets from any other origin."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards WebSocket connections")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
