"""A cloud's webhook settings: who reads and writes them, validation, and the secret never shown."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.clouds.members import grant_membership
from apps.clouds.secrets import decrypt
from apps.notifications.models import NotificationSettings
from tests.factories import UserFactory

from .conftest import SECRET

pytestmark = pytest.mark.django_db
URL = "/api/clouds/demo/notifications/"


def put(api, **body):
    return api.put(URL, body, format="json")


def test_a_cloud_without_settings_has_no_webhook(api_as, viewer, demo_cloud):
    response = api_as(viewer).get(URL)
    assert response.status_code == 200
    assert response.json() | {"updated_at": None} == {
        "cloud": "demo",
        "webhook_url": "",
        "enabled": False,
        "secret": "",
        "updated_at": None,
        "updated_by": None,
    }


def test_admin_sets_the_webhook_and_the_secret_is_stored_encrypted_never_returned(
    api_as, admin_user, demo_cloud
):
    response = put(
        api_as(admin_user), webhook_url="https://hooks.example.com/f?t=1", secret=SECRET, enabled=True
    )
    assert response.status_code == 200, response.content
    assert SECRET not in response.content.decode()
    assert response.json()["secret"] == "(set)" and response.json()["enabled"] is True
    hook = NotificationSettings.objects.get(cloud=demo_cloud)
    assert SECRET not in hook.secret_encrypted and decrypt(hook.secret_encrypted) == SECRET
    assert SECRET not in api_as(admin_user).get(URL).content.decode()
    entry = AuditEntry.objects.get(action="cloud.notifications_changed")
    assert SECRET not in str(entry.detail) and hook.secret_encrypted not in str(entry.detail)
    assert entry.detail["before"] == {"webhook_url": "", "enabled": False, "secret": ""}
    assert entry.detail["after"] == {
        "webhook_url": "https://hooks.example.com/f?t=1",
        "enabled": True,
        "secret": "(set)",
    }
    assert entry.detail["secret_changed"] is True


def test_an_empty_secret_keeps_the_stored_one(api_as, admin_user, demo_cloud):
    put(api_as(admin_user), webhook_url="https://hooks.example.com/f", secret=SECRET, enabled=True)
    assert put(api_as(admin_user), enabled=False, secret="").status_code == 200
    hook = NotificationSettings.objects.get(cloud=demo_cloud)
    assert decrypt(hook.secret_encrypted) == SECRET and not hook.enabled


def test_non_admins_see_only_the_webhook_host(api_as, admin_user, viewer, demo_cloud):
    put(api_as(admin_user), webhook_url="https://hooks.example.com/token/abc", secret=SECRET, enabled=True)
    body = api_as(viewer).get(URL).json()
    assert body["webhook_url"] == "https://hooks.example.com/…" and body["secret"] == "(set)"


@pytest.mark.parametrize("persona", ["viewer", "operator", "approver"])
def test_who_is_not_the_clouds_admin_cannot_change_it(request, api_as, persona, demo_cloud):
    user = request.getfixturevalue(persona)
    response = put(api_as(user), webhook_url="https://evil.example.com/", secret=SECRET, enabled=True)
    assert response.status_code == 403
    assert not NotificationSettings.objects.exists()


def test_an_admin_of_this_cloud_only_may_change_it(api_as, admin_user, demo_cloud):
    local = UserFactory(username="lea-local")
    grant_membership(admin_user, demo_cloud, local.username, "admin")
    assert put(api_as(local), webhook_url="https://hooks.example.com/", secret=SECRET).status_code == 200


def test_outsiders_do_not_see_the_cloud(api_as, outsider, demo_cloud):
    assert api_as(outsider).get(URL).status_code == 404


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/", "file:///etc/passwd", "hooks.example.com", "http://"]
)
def test_only_http_and_https_urls_are_taken(api_as, admin_user, demo_cloud, url):
    response = put(api_as(admin_user), webhook_url=url, secret=SECRET)
    assert response.status_code == 400
    assert "webhook_url" in response.json()


def test_enabling_needs_a_url_and_a_secret(api_as, admin_user, demo_cloud):
    assert "webhook_url" in put(api_as(admin_user), enabled=True, secret=SECRET).json()
    assert "secret" in put(api_as(admin_user), webhook_url="https://h.example.com/", enabled=True).json()
    assert "secret" in put(api_as(admin_user), secret="short").json()


def test_unknown_fields_are_refused(api_as, admin_user, demo_cloud):
    response = put(api_as(admin_user), secret_encrypted="x")
    assert response.status_code == 400 and "secret_encrypted" in response.json()


def test_the_cloud_page_form_saves_the_webhook(client_as, admin_user, viewer, demo_cloud):
    page = client_as(admin_user).get("/clouds/demo/")
    assert b'id="notifications-form"' in page.content
    response = client_as(admin_user).post(
        "/notifications/clouds/demo/",
        {"webhook_url": "https://hooks.example.com/ferry", "secret": SECRET, "enabled": "on"},
    )
    assert response.status_code == 302
    hook = NotificationSettings.objects.get(cloud=demo_cloud)
    assert hook.enabled and hook.webhook_url == "https://hooks.example.com/ferry"
    page = client_as(admin_user).get("/clouds/demo/")
    assert SECRET.encode() not in page.content and hook.secret_encrypted.encode() not in page.content
    viewer_page = client_as(viewer).get("/clouds/demo/")
    assert (
        b"notifications-form" not in viewer_page.content and b"hooks.example.com" not in viewer_page.content
    )
    assert client_as(viewer).post("/notifications/clouds/demo/", {"webhook_url": ""}).status_code == 403
