"""Production settings pass Django's deploy checks; pages carry HSTS and a CSP with no inline script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from apps.jobs.tests.factories import make_job

BASE = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k7#Qz!v2@Lm9$Rp4^Wx8&Tn3*Hb6(Jc1)Fd5_Gs0+Yu7-Ae2=Ko9",
    "FERRY_SECRETS_KEY": "production-like-secrets-key",
    "DATABASE_URL": "postgres://ferry@db.invalid:5432/ferry",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "ALLOWED_HOSTS": "ferry.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://ferry.example.com",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "manage.py", *args], **env)


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    inherited = ("DATABASE_", "REDIS_", "SESSION_", "SECURE_")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    environ.update(env)
    return subprocess.run(
        command,
        cwd=BASE,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_checks_pass_in_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_deploy_checks_fail_when_https_is_turned_off():
    # The test above can fail: plain http in production is reported.
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV, SESSION_COOKIE_SECURE="0"
    )
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout


def test_production_pages_carry_hsts_and_the_csp():
    probe = (
        "import json, django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client(HTTP_HOST='ferry.example.com').get('/login/', secure=True)\n"
        "print(json.dumps({'status': r.status_code, **dict(r.headers)}))\n"
    )
    result = _run([sys.executable, "-c", probe], **PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="portal.settings")
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    plain = _run(
        [sys.executable, "-c", probe.replace("secure=True", "secure=False")],
        **PRODUCTION_ENV,
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    # Plain http is sent to https.
    assert json.loads(plain.stdout.strip().splitlines()[-1])["status"] == 301


@pytest.mark.django_db
def test_pages_carry_a_csp_without_inline_script(client_as, viewer):
    policy = client_as(viewer).get("/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in policy


class _InlineScriptFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        executable = attributes.get("type") in (
            None,
            "",
            "module",
            "text/javascript",
            "application/javascript",
        )
        self._in_inline_script = tag == "script" and "src" not in attributes and executable

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}…")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


@pytest.fixture
def every_page(demo_cloud, admin_user):
    job = make_job(demo_cloud, admin_user)
    return [
        "/",
        "/clouds/",
        "/clouds/new/",
        "/clouds/demo/",
        "/clouds/demo/hosts/",
        "/clouds/demo/support/",
        "/clouds/demo/edit/",
        "/clouds/demo/import/",
        "/jobs/",
        f"/jobs/{job.pk}/",
        "/clouds/demo/jobs/new/",
        "/catalog/releases/2025.1/",
        "/catalog/releases/",
        "/catalog/matrix/",
        "/catalog/tiers/",
        "/api/docs/",
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{admin_user.pk}/change/",
    ]


@pytest.mark.django_db
def test_no_page_has_inline_script_or_event_handlers(client, client_as, admin_user, every_page):
    login_page = client.get("/login/")
    pages = {"/login/": login_page}
    admin = client_as(admin_user)
    for path in every_page:
        pages[path] = admin.get(path, follow=True)
    for path, response in pages.items():
        assert response.status_code == 200, path
        finder = _InlineScriptFinder()
        finder.feed(response.content.decode())
        assert finder.found == [], path


def test_templates_have_no_inline_script_or_event_handlers():
    pattern = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|hx-on|javascript:", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(BASE)}: {match.group(0)}"
        for path in (BASE / "templates").rglob("*.html")
        for match in pattern.finditer(path.read_text())
    ]
    assert offenders == []
