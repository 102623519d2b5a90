"""The clouds, cells and hosts API: permissions, filters, keyset pages, bounded queries, import."""

import io

import pytest

from apps.clouds.models import Cloud, Host

pytestmark = pytest.mark.django_db


def test_cloud_api_never_returns_passwords(api_as, viewer, demo_cloud):
    body = api_as(viewer).get("/api/clouds/demo/").json()
    assert body["has_passwords"] is True
    assert "passwords_yml" not in body and "passwords_encrypted" not in body
    assert "Sup3r-Secret-DB" not in str(body)
    assert body["host_count"] == 14 and body["cell_count"] == 2


def test_outsider_sees_no_cloud(api_as, outsider, demo_cloud):
    assert api_as(outsider).get("/api/clouds/").status_code == 403


def test_admin_creates_cloud_through_the_service(api_as, admin_user):
    response = api_as(admin_user).post(
        "/api/clouds/",
        {"slug": "north", "release": "2026.1", "globals_yml": "a: 1\n", "passwords_yml": "p: Pw-123456\n"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["release"] == "2026.1" and "passwords_yml" not in response.json()
    assert Cloud.objects.get(slug="north").has_passwords


def test_bad_cloud_gets_400_naming_the_field(api_as, admin_user):
    response = api_as(admin_user).post("/api/clouds/", {"slug": "x", "globals_yml": "a: [\n"}, format="json")
    assert response.status_code == 400
    assert "globals_yml" in response.json()
    assert not Cloud.objects.exists()


def test_operator_cannot_change_cloud_definition(api_as, operator, demo_cloud):
    assert api_as(operator).patch("/api/clouds/demo/", {"region": "X"}, format="json").status_code == 403


def test_hosts_filter_by_cell_and_group(api_as, viewer, demo_cloud):
    api = api_as(viewer)
    names = {h["name"] for h in api.get("/api/hosts/", {"cloud": "demo", "cell": "cell2"}).json()["results"]}
    assert names == {"c2ctl01", "c2cmp01", "c2cmp02", "c2cmp03"}
    controls = api.get("/api/hosts/", {"cloud": "demo", "group": "control"}).json()["results"]
    assert [h["name"] for h in controls] == ["ctl01", "ctl02", "ctl03"]


def test_host_list_pages_by_cursor_without_count(api_as, viewer, demo_cloud, django_assert_max_num_queries):
    api = api_as(viewer)
    first = api.get("/api/hosts/", {"limit": 5}).json()
    assert "count" not in first and len(first["results"]) == 5 and first["next"]
    second = api.get(first["next"]).json()
    assert {h["id"] for h in first["results"]}.isdisjoint({h["id"] for h in second["results"]})


def test_list_endpoints_issue_a_bounded_number_of_queries(
    api_as, viewer, demo_cloud, django_assert_max_num_queries
):
    api = api_as(viewer)
    Host.objects.bulk_create(
        Host(cloud=demo_cloud, name=f"extra{i:04d}", position=100 + i) for i in range(400)
    )
    for url in ("/api/hosts/?limit=1000", "/api/clouds/", "/api/cells/"):
        with django_assert_max_num_queries(8):
            assert api.get(url).status_code == 200


def test_import_by_upload_then_a_bad_upload_changes_nothing(api_as, admin_user, demo_cloud):
    api = api_as(admin_user)
    good = io.BytesIO(b"[control]\nctl01 ansible_host=10.0.0.11\n[compute]\ncmp01\n")
    good.name = "multinode"
    response = api.post("/api/clouds/demo/import-inventory/", {"inventory": good}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["hosts"] == 2
    bad = io.BytesIO(b"[control]\nctl01\n[compute\n")
    bad.name = "multinode"
    response = api.post("/api/clouds/demo/import-inventory/", {"inventory": bad}, format="multipart")
    assert response.status_code == 400
    assert "line 3" in str(response.json()["inventory"])
    assert sorted(demo_cloud.hosts.values_list("name", flat=True)) == ["cmp01", "ctl01"]


def test_viewer_cannot_import(api_as, viewer, demo_cloud):
    upload = io.BytesIO(b"[control]\nx\n")
    upload.name = "inv"
    response = api_as(viewer).post(
        "/api/clouds/demo/import-inventory/", {"inventory": upload}, format="multipart"
    )
    assert response.status_code == 403
    assert demo_cloud.hosts.count() == 14
