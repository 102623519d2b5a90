"""Cloud pages: the cells tree, hosts, support report, forms that refuse bad input."""

import io

import pytest

from apps.clouds.models import Cloud

pytestmark = pytest.mark.django_db


def test_cloud_detail_shows_cells_tree_and_group_counts(client_as, viewer, demo_cloud):
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert "API level" in page and "cell1" in page and "nova_cell2" in page
    assert "5 hosts" in page and "4 hosts" in page  # cell1 and cell2
    assert "2025.1 Epoxy" in page
    assert "Sup3r-Secret-DB" not in page


def test_support_report_flags_what_is_unmaintained_or_unavailable(client_as, viewer, demo_cloud):
    demo_cloud.globals_yml += 'enable_magnum: "yes"\n'
    demo_cloud.save()
    page = client_as(viewer).get("/clouds/demo/support/").content.decode()
    assert "magnum" in page and "tier unmaintained" in page
    assert "nova-compute" in page


def test_host_list_filters_and_pages(client_as, viewer, demo_cloud):
    page = client_as(viewer).get("/clouds/demo/hosts/", {"cell": "cell2"}).content.decode()
    assert "c2cmp03" in page and "c1cmp01" not in page


def test_outsider_gets_404_for_a_cloud(client_as, outsider, demo_cloud):
    assert client_as(outsider).get("/clouds/demo/").status_code == 404


def test_cloud_form_names_the_bad_field_and_creates_nothing(client_as, admin_user):
    page = (
        client_as(admin_user)
        .post(
            "/clouds/new/",
            {
                "slug": "-bad-",
                "region": "R",
                "distro": "rocky",
                "distro_version": "10",
                "arch": "x86_64",
                "container_engine": "docker",
                "globals_yml": "",
            },
        )
        .content.decode()
    )
    assert "Slug:" in page and "DNS label" in page
    assert not Cloud.objects.exists()


def test_import_page_needs_confirmation(client_as, admin_user, demo_cloud):
    upload = io.BytesIO(b"[control]\nonly01\n")
    upload.name = "multinode"
    page = client_as(admin_user).post("/clouds/demo/import/", {"inventory": upload}).content.decode()
    assert "This field is required" in page
    assert demo_cloud.hosts.count() == 14


def test_import_page_replaces_inventory_when_confirmed(client_as, admin_user, demo_cloud):
    upload = io.BytesIO(b"[control]\nonly01\n")
    upload.name = "multinode"
    response = client_as(admin_user).post("/clouds/demo/import/", {"inventory": upload, "confirm": "on"})
    assert response.status_code == 302
    assert list(demo_cloud.hosts.values_list("name", flat=True)) == ["only01"]
