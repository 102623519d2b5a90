"""Password guessing is throttled, and every login, failed or not, is in the audit trail."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def _login(client, username: str, password: str, path: str = "/login/", address: str = "192.0.2.7"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_repeated_wrong_passwords_lock_the_login_even_for_the_right_one(client, admin_user):
    statuses = [_login(client, admin_user.username, f"guess-{n}").status_code for n in range(30)]
    assert 429 in statuses
    # At most a handful of guesses are checked; the rest are refused unread.
    assert statuses.count(200) <= 5
    response = _login(client, admin_user.username, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_admin_login_page_is_throttled_too(client, admin_user):
    statuses = [
        _login(client, admin_user.username, f"guess-{n}", path="/admin/login/").status_code for n in range(10)
    ]
    assert statuses[-1] == 429


def test_a_lockout_from_one_address_leaves_other_addresses_alone(client, admin_user):
    for n in range(10):
        _login(client, admin_user.username, f"guess-{n}", address="192.0.2.66")
    assert _login(client, admin_user.username, PASSWORD, address="198.51.100.5").status_code == 302


def test_a_few_typos_do_not_lock_anyone_out(client, operator):
    for n in range(3):
        assert _login(client, operator.username, f"typo-{n}").status_code == 200
    assert _login(client, operator.username, PASSWORD).status_code == 302


def test_failed_login_is_audited_with_the_source_address(client, operator):
    _login(client, operator.username, "nope", address="203.0.113.9")
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.actor is None
    assert entry.detail == {"username": operator.username, "address": "203.0.113.9"}
    assert "nope" not in str(entry.detail)


def test_successful_login_is_audited_with_the_source_address(client, operator):
    assert _login(client, operator.username, PASSWORD, address="203.0.113.10").status_code == 302
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor == operator and entry.actor_name == operator.username
    assert entry.detail == {"address": "203.0.113.10"}
