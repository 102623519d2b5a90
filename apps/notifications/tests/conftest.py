"""Fixtures of the notification tests: approvals on, a job awaiting approval, a local webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.jobs import services
from apps.notifications.services import update_settings

DEPLOY = {"release": "2025.1"}
SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
def one_approval(settings):
    settings.FERRY_APPROVALS_REQUIRED = 1
    settings.FERRY_APPROVAL_TTL_HOURS = 72


@pytest.fixture
def awaiting(one_approval, operator, demo_cloud, no_worker):
    """A deploy of the demo cloud, launched by the operator, awaiting one approval."""
    return services.launch_job(
        operator, demo_cloud, "deploy", params=DEPLOY, confirmed=True, reason="roll out the new images"
    )


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks each call's signature as a real one would."""

    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret = secret
        self.calls: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signature = self.headers.get("X-Ferry-Signature", "")
                valid = hmac.compare_digest(expected, signature)
                receiver.calls.append(
                    {"event": self.headers.get("X-Ferry-Event"), "valid": valid, "json": json.loads(body)}
                )
                self.send_response(204 if valid else 401)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver(SECRET)
    yield server
    server.stop()


@pytest.fixture
def hooked(admin_user, demo_cloud, receiver):
    """The demo cloud POSTs its events to ``receiver``."""
    update_settings(admin_user, demo_cloud, {"webhook_url": receiver.url, "secret": SECRET, "enabled": True})
    return receiver
