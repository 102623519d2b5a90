"""A task enqueued by a web request runs in a worker and reaches a WebSocket client."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = [pytest.mark.production, pytest.mark.server, pytest.mark.xdist_group("roundtrip")]


def _roundtrip(stack) -> dict:
    client = stack.login("admin")
    token = uuid.uuid4().hex
    with connect(f"{stack.ws_url}/ws/roundtrip/{token}/", additional_headers=stack.ws_headers(client)) as ws:
        response = client.post("/api/diagnostics/roundtrip/", json={"token": token})
        assert response.status_code == 202, response.text
        message = json.loads(ws.recv(timeout=20))
    assert message["token"] == token
    return message


def test_production_task_runs_in_the_separate_worker_and_reaches_the_websocket(production_stack):
    health = production_stack.wait_healthy()
    assert health["mode"] == "production"
    assert health["checks"]["database"]["detail"] == "postgresql"
    assert health["checks"]["channel_layer"]["detail"] == "RedisChannelLayer"
    message = _roundtrip(production_stack)
    # The worker is its own process (a prefork child of it), not the web server.
    assert message["worker_pid"] != production_stack.pid("web")


def test_embedded_task_runs_in_process_and_reaches_the_websocket(embedded_stack):
    health = embedded_stack.wait_healthy()
    assert health["mode"] == "embedded"
    assert health["checks"]["database"]["detail"] == "sqlite"
    message = _roundtrip(embedded_stack)
    assert message["worker_pid"] == embedded_stack.pid("web")


def test_websocket_refuses_anonymous_clients(embedded_stack):
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"{embedded_stack.ws_url}/ws/roundtrip/abc/",
            additional_headers={"Origin": embedded_stack.base_url},
        )
    assert refused.value.response.status_code == 403


def test_websocket_refuses_foreign_origins(embedded_stack):
    client = embedded_stack.login("viewer")
    headers = {**embedded_stack.ws_headers(client), "Origin": "http://evil.example"}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{embedded_stack.ws_url}/ws/roundtrip/abc/", additional_headers=headers)
    assert refused.value.response.status_code == 403


def test_healthz_names_what_is_down(production_stack):
    production_stack.processes["worker"].terminate()
    production_stack.processes["worker"].wait(timeout=30)
    response = httpx.get(f"{production_stack.base_url}/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]
