"""The API's schema and docs need a team role; the diagnostic round trip needs the admin role."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

SCHEMA_PATHS = ["/api/schema/", "/api/docs/"]


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_user_without_a_role_cannot_read_the_schema_or_docs(client_as, outsider, path):
    assert client_as(outsider).get(path).status_code == 403


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_viewer_reads_the_schema_and_docs(client_as, viewer, path):
    assert client_as(viewer).get(path).status_code == 200


@pytest.mark.parametrize("persona", ["outsider", "viewer", "operator", "approver"])
def test_only_admins_queue_diagnostic_tasks(api_as, request, persona, monkeypatch):
    from portal import api

    queued = []
    monkeypatch.setattr(api.roundtrip, "delay", queued.append)
    response = api_as(request.getfixturevalue(persona)).post("/api/diagnostics/roundtrip/", {}, format="json")
    assert response.status_code == 403
    assert queued == []


def test_admin_queues_a_diagnostic_task(api_as, admin_user, monkeypatch):
    from portal import api

    queued = []
    monkeypatch.setattr(api.roundtrip, "delay", queued.append)
    response = api_as(admin_user).post("/api/diagnostics/roundtrip/", {"token": "abc123"}, format="json")
    assert response.status_code == 202
    assert queued == ["abc123"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("persona", ["viewer", "operator", "admin_user"])
async def test_only_admins_listen_to_diagnostic_results(request, persona):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from portal.asgi import application

    user = await database_sync_to_async(request.getfixturevalue)(persona)
    comm = WebsocketCommunicator(
        application,
        "/ws/roundtrip/abc/",
        headers=[(b"host", b"localhost"), (b"origin", b"http://localhost")],
    )
    comm.scope["user"] = user
    connected, _ = await comm.connect()
    await comm.disconnect()
    assert connected == (persona == "admin_user")
