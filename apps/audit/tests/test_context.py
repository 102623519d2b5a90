"""Every entry says where it came from: the request id and the client's address, over HTTP, a
WebSocket or a job run by a worker."""

from __future__ import annotations

import asyncio

import pytest

from apps.audit.context import audit_context, current
from apps.audit.middleware import AuditContextASGIMiddleware
from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def _login(client, user, **extra):
    return client.post("/login/", {"username": user.username, "password": PASSWORD}, **extra)


def test_an_entry_carries_the_request_id_sent_and_the_peer_address(client, operator):
    response = _login(client, operator, REMOTE_ADDR="192.0.2.20", HTTP_X_REQUEST_ID="req-4711.a")
    assert response.status_code == 302 and response["X-Request-ID"] == "req-4711.a"
    entry = AuditEntry.objects.get(action="auth.login")
    assert (entry.request_id, entry.source_address) == ("req-4711.a", "192.0.2.20")


@pytest.mark.parametrize("sent", ["", "x" * 65, "bad id", "<script>", "-leading-dash", "é"])
def test_a_missing_or_insane_request_id_is_replaced_by_a_fresh_one(client, operator, sent):
    response = _login(client, operator, HTTP_X_REQUEST_ID=sent)
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.request_id == response["X-Request-ID"] != sent
    assert len(entry.request_id) == 32


def test_every_answer_carries_a_request_id_even_an_early_refusal(client):
    response = client.get("/healthz?x=%00")
    assert response.status_code == 400 and len(response["X-Request-ID"]) == 32


def test_a_forwarded_address_is_ignored_unless_the_proxy_is_trusted(client, operator):
    _login(client, operator, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.66")
    assert AuditEntry.objects.get(action="auth.login").source_address == "10.0.0.2"


def test_a_trusted_proxy_header_gives_the_address_the_proxy_saw(client, operator, settings):
    settings.FERRY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    # The client forged the first entry; the trusted proxy appended the address it saw.
    _login(client, operator, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.source_address == "203.0.113.7" and entry.detail["address"] == "203.0.113.7"


def test_a_trusted_header_that_holds_no_address_falls_back_to_the_peer(client, operator, settings):
    settings.FERRY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    _login(client, operator, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert AuditEntry.objects.get(action="auth.login").source_address == "10.0.0.2"


def test_a_websocket_connection_has_its_request_id_and_client_address():
    seen = []

    async def consumer(scope, receive, send):
        seen.append(current())

    scope = {
        "type": "websocket",
        "client": ["192.0.2.44", 50000],
        "headers": [(b"x-request-id", b"ws-req-1"), (b"origin", b"http://testserver")],
    }
    asyncio.run(AuditContextASGIMiddleware(consumer)(scope, None, None))
    assert (seen[0].request_id, seen[0].source_address) == ("ws-req-1", "192.0.2.44")
    assert current().request_id == ""  # nothing leaks out of the connection


def test_a_job_run_by_a_worker_carries_the_request_id_of_its_launch(
    demo_cloud, operator, no_worker, monkeypatch
):
    from apps.jobs import execution
    from apps.jobs.services import launch_job

    with audit_context(request_id="launch-req-9", source_address="192.0.2.9"):
        job = launch_job(operator, demo_cloud, "prechecks")
    assert job.request_id == "launch-req-9"
    assert AuditEntry.objects.get(action="job.launch").request_id == "launch-req-9"

    seen = []
    monkeypatch.setattr(execution, "_execute", lambda job, worker: seen.append(current()))
    execution.execute_job(job.pk, worker="w1")
    # The worker knows the launch's request, not the address of whoever sent it.
    assert (seen[0].request_id, seen[0].source_address) == ("launch-req-9", "")
    assert current().request_id == ""


def test_entries_outside_any_request_carry_no_origin(operator):
    from apps.audit.services import record

    entry = record(operator, "test.offline")
    assert (entry.request_id, entry.source_address) == ("", "")
