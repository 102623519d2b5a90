"""Every page and API endpoint needs a login, except the login page and /healthz."""

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/admin/"])
def test_pages_redirect_anonymous_users_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("path", ["/api/", "/api/schema/", "/api/docs/"])
def test_api_refuses_anonymous_clients(client, path):
    assert client.get(path).status_code == 401


def test_login_page_is_public(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Log in to Ferry" in response.content


def test_login_with_password_then_dashboard(client, operator):
    response = client.post("/login/", {"username": operator.username, "password": "pass-word-123"})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"otto-operator" in page.content and b"operator" in page.content


def test_wrong_password_says_so(client, operator):
    response = client.post("/login/", {"username": operator.username, "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_logout_ends_the_session(client, operator):
    client.force_login(operator)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_api_accepts_token_auth(client, operator):
    token = Token.objects.create(user=operator)
    response = client.get("/api/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_api_accepts_session_auth(client_as, viewer):
    assert client_as(viewer).get("/api/").status_code == 200


def test_openapi_schema_and_docs_for_logged_in_users(client_as, viewer):
    client = client_as(viewer)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Ferry API"
    assert "/api/diagnostics/roundtrip/" in schema.json()["paths"]
    assert client.get("/api/docs/").status_code == 200
