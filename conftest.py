"""Fixtures shared by every test: one persona per role, and clients logged in as them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

PERSONAS = ("viewer", "operator", "approver", "admin")


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera-viewer", role="viewer")


@pytest.fixture
def operator(db):
    return UserFactory(username="otto-operator", role="operator")


@pytest.fixture
def approver(db):
    return UserFactory(username="alma-approver", role="approver")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada-admin", role="admin")


@pytest.fixture
def outsider(db):
    """Logged in, but holds no role: sees no cloud."""
    return UserFactory(username="oscar-outsider")


@pytest.fixture
def api():
    """An API client; call ``api.force_authenticate(user)`` or log in with a token."""
    return APIClient()


@pytest.fixture
def client_as(client):
    """``client_as(user)`` returns the test client logged in as ``user``."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_as(api):
    """``api_as(user)`` returns the API client authenticated as ``user``."""

    def login(user):
        api.force_authenticate(user)
        return api

    return login
