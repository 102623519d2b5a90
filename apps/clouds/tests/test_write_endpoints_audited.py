"""Every write endpoint of clouds (API and pages) leaves an audit entry with its request id and
address; cells and hosts are read-only over the API, and a refused write leaves none."""

from __future__ import annotations

import io

import pytest

from apps.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _upload() -> io.BytesIO:
    upload = io.BytesIO(b"[control]\nctl01\n[compute]\ncmp01\n")
    upload.name = "multinode"
    return upload


API_WRITES = {
    "POST /api/clouds/": (
        "cloud.create",
        lambda api: api.post("/api/clouds/", {"slug": "west", "region": "RegionTwo"}, format="json"),
    ),
    "PATCH /api/clouds/demo/": (
        "cloud.update",
        lambda api: api.patch("/api/clouds/demo/", {"description": "east"}, format="json"),
    ),
    "PUT /api/clouds/demo/": (
        "cloud.update",
        lambda api: api.put("/api/clouds/demo/", {"slug": "demo", "description": "put"}, format="json"),
    ),
    "POST /api/clouds/demo/import-inventory/": (
        "cloud.import_inventory",
        lambda api: api.post(
            "/api/clouds/demo/import-inventory/", {"inventory": _upload()}, format="multipart"
        ),
    ),
}


@pytest.mark.parametrize("endpoint", sorted(API_WRITES))
def test_each_cloud_api_write_is_audited(api_as, admin_user, demo_cloud, endpoint):
    action, call = API_WRITES[endpoint]
    before = AuditEntry.objects.count()
    response = call(api_as(admin_user))
    assert response.status_code in (200, 201), response.content
    entry = AuditEntry.objects.filter(action=action).latest("id")
    assert entry.id > 0 and AuditEntry.objects.count() == before + 1
    assert entry.actor == admin_user and len(entry.request_id) == 32 and entry.source_address == "127.0.0.1"


PAGE_WRITES = {
    "/clouds/new/": (
        "cloud.create",
        {
            "slug": "west",
            "region": "RegionTwo",
            "distro": "rocky",
            "distro_version": "10",
            "arch": "x86_64",
            "container_engine": "docker",
        },
    ),
    "/clouds/demo/edit/": (
        "cloud.update",
        {
            "slug": "demo",
            "region": "RegionOne",
            "description": "from the page",
            "release": "2025.1",
            "distro": "rocky",
            "distro_version": "10",
            "arch": "x86_64",
            "container_engine": "docker",
        },
    ),
    "/clouds/demo/import/": ("cloud.import_inventory", {"confirm": "on"}),
}


@pytest.mark.parametrize("path", sorted(PAGE_WRITES))
def test_each_cloud_page_write_is_audited(client_as, admin_user, demo_cloud, path):
    action, data = PAGE_WRITES[path]
    if path.endswith("/import/"):
        data = {**data, "inventory": _upload()}
    if path.endswith("/edit/"):
        data = {**data, "globals_yml": demo_cloud.globals_yml}
    client = client_as(admin_user)
    response = client.post(path, data, HTTP_X_REQUEST_ID="page-write-1")
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action=action).latest("id")
    assert entry.actor == admin_user and entry.request_id == "page-write-1"


def test_deleting_a_cloud_over_the_api_is_refused_and_writes_nothing(api_as, admin_user, demo_cloud):
    before = AuditEntry.objects.count()
    assert api_as(admin_user).delete("/api/clouds/demo/").status_code == 400
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("path", ["/api/cells/", "/api/hosts/"])
def test_cells_and_hosts_are_read_only_over_the_api(api_as, admin_user, demo_cloud, path):
    api = api_as(admin_user)
    first = api.get(path).json()["results"][0]["id"]
    assert api.post(path, {"name": "x"}, format="json").status_code == 405
    assert api.patch(f"{path}{first}/", {"name": "x"}, format="json").status_code == 405
    assert api.delete(f"{path}{first}/").status_code == 405
