"""WebSockets open only from Ferry's own origin: same scheme, host and port, or a trusted origin."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from portal.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _handshake(admin_user, *, origin: str | None, host: str = "localhost:8000", scheme: str = "ws"):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, "/ws/roundtrip/abc/", headers=headers)
    comm.scope["user"] = admin_user
    comm.scope["scheme"] = scheme
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


async def test_websocket_from_the_pages_own_origin_is_accepted(admin_user):
    assert await _handshake(admin_user, origin="http://localhost:8000")


async def test_websocket_from_another_port_of_the_same_host_is_refused(admin_user):
    assert not await _handshake(admin_user, origin="http://localhost:9999")


async def test_websocket_from_the_same_host_without_the_port_is_refused(admin_user):
    assert not await _handshake(admin_user, origin="http://localhost")


async def test_websocket_from_another_scheme_is_refused(admin_user):
    assert not await _handshake(admin_user, origin="https://localhost:8000")


async def test_websocket_from_another_host_is_refused(admin_user):
    assert not await _handshake(admin_user, origin="http://evil.example:8000")


async def test_websocket_without_an_origin_is_refused(admin_user):
    assert not await _handshake(admin_user, origin=None)


async def test_websocket_for_a_host_not_allowed_is_refused(admin_user):
    assert not await _handshake(admin_user, origin="http://evil.example:8000", host="evil.example:8000")


async def test_websocket_over_tls_accepts_the_https_origin(admin_user):
    assert await _handshake(admin_user, origin="https://localhost", host="localhost", scheme="wss")


async def test_websocket_from_a_trusted_origin_is_accepted(admin_user):
    # Behind a TLS proxy daphne sees plain ws; the operator lists the public origin.
    with override_settings(CSRF_TRUSTED_ORIGINS=["https://ferry.example.com"], ALLOWED_HOSTS=["*"]):
        assert await _handshake(admin_user, origin="https://ferry.example.com", host="ferry.example.com")
        other_port = "https://ferry.example.com:8443"
        assert not await _handshake(admin_user, origin=other_port, host="ferry.example.com")


async def test_websocket_behind_a_proxy_that_says_https(admin_user):
    with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        headers = [
            (b"host", b"localhost"),
            (b"origin", b"https://localhost"),
            (b"x-forwarded-proto", b"https"),
        ]
        comm = WebsocketCommunicator(application, "/ws/roundtrip/abc/", headers=headers)
        comm.scope["user"] = admin_user
        connected, _ = await comm.connect()
        await comm.disconnect()
        assert connected
