"""The cloud edit page saves what the admin changed and nothing else, byte for byte."""

import pytest

from apps.audit.models import AuditEntry
from apps.clouds.models import Cloud, CloudState
from tests.browser_form import as_post_data, browsable_api_put, browser_submission

pytestmark = pytest.mark.django_db

GLOBALS = {
    "demo file": None,
    "leading blank line": '\n---\nkolla_base_distro: "rocky"\n',
    "CRLF line endings": '---\r\nkolla_base_distro: "rocky"\r\nenable_cinder: "no"  \r\n',
    "no final newline": 'kolla_base_distro: "rocky"',
}


def _stored(cloud: Cloud) -> dict:
    return Cloud.objects.filter(pk=cloud.pk).values().get()


@pytest.fixture
def deployed(demo_cloud):
    demo_cloud.description = "the demo cloud"
    demo_cloud.state = CloudState.DEPLOYED
    demo_cloud.save()
    return demo_cloud


@pytest.mark.parametrize("globals_yml", GLOBALS.values(), ids=GLOBALS.keys())
def test_saving_the_edit_form_as_rendered_changes_nothing(client_as, admin_user, deployed, globals_yml):
    if globals_yml is not None:
        Cloud.objects.filter(pk=deployed.pk).update(globals_yml=globals_yml)
    before = _stored(deployed)
    client = client_as(admin_user)
    page = client.get("/clouds/demo/edit/").content.decode()

    response = client.post("/clouds/demo/edit/", as_post_data(browser_submission(page, field="slug")))

    assert response.status_code == 302, response.content.decode()
    assert _stored(deployed) == before
    assert not [e.detail for e in AuditEntry.objects.filter(action="cloud.update") if e.detail["changed"]]


def test_changing_the_description_changes_only_the_description(client_as, admin_user, deployed):
    before = _stored(deployed)
    client = client_as(admin_user)
    pairs = browser_submission(client.get("/clouds/demo/edit/").content.decode(), field="slug")
    pairs = [(k, "a new description" if k == "description" else v) for k, v in pairs]

    assert client.post("/clouds/demo/edit/", as_post_data(pairs)).status_code == 302

    after = _stored(deployed)
    assert after.pop("description") == "a new description"
    assert after.pop("updated_at") >= before.pop("updated_at")
    before.pop("description")
    assert after == before
    assert after["release_id"] is not None and after["state"] == CloudState.DEPLOYED
    assert AuditEntry.objects.get(action="cloud.update").detail["changed"] == ["description"]


def test_a_globals_edit_is_stored_with_the_line_endings_it_had(client_as, admin_user, deployed):
    client = client_as(admin_user)
    pairs = browser_submission(client.get("/clouds/demo/edit/").content.decode(), field="slug")
    pairs = [(k, v + '\r\nenable_magnum: "yes"\r\n' if k == "globals_yml" else v) for k, v in pairs]

    assert client.post("/clouds/demo/edit/", as_post_data(pairs)).status_code == 302

    stored = Cloud.objects.get(pk=deployed.pk).globals_yml
    assert "\r" not in stored and stored.endswith('\nenable_magnum: "yes"\n')
    assert AuditEntry.objects.get(action="cloud.update").detail["changed"] == ["globals_yml"]


@pytest.mark.parametrize("raw", [False, True], ids=["html form", "raw data form"])
def test_saving_the_browsable_api_form_as_rendered_changes_nothing(client_as, admin_user, deployed, raw):
    assert deployed.has_passwords
    before = _stored(deployed)

    response = browsable_api_put(client_as(admin_user), "/api/clouds/demo/", raw=raw)

    assert response.status_code == 200, response.content.decode()
    assert _stored(deployed) == before
    assert not [e.detail for e in AuditEntry.objects.filter(action="cloud.update") if e.detail["changed"]]


def test_the_api_clears_passwords_only_when_asked(api_as, admin_user, deployed):
    api = api_as(admin_user)
    assert api.patch("/api/clouds/demo/", {"passwords_yml": ""}, format="json").status_code == 200
    assert Cloud.objects.get(pk=deployed.pk).has_passwords
    assert api.patch("/api/clouds/demo/", {"clear_passwords": True}, format="json").status_code == 200
    assert not Cloud.objects.get(pk=deployed.pk).has_passwords
