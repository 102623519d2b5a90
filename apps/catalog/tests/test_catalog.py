"""The shipped release catalog, images and tiers, and their API and pages."""

import pytest

from apps.catalog.models import Image, ImageTag, Release, SupportTier
from runner.kolla import KOLLA_MAJOR_BY_SERIES

pytestmark = pytest.mark.django_db


def test_release_catalog_runs_from_liberty_to_2027_1_in_order():
    releases = list(Release.objects.all())
    assert (releases[0].series, releases[0].name) == ("2015.2", "Liberty")
    assert (releases[-1].series, releases[-1].name) == ("2027.1", "Indri")
    assert len(releases) == 24
    assert [r.series for r in releases if r.slurp] == ["2023.1", "2024.1", "2025.1", "2026.1", "2027.1"]
    assert Release.objects.get(series="2026.1").kolla_ansible_major == 22


def test_every_release_deploys_with_the_kolla_major_the_runner_installs():
    shipped = dict(Release.objects.values_list("series", "kolla_ansible_major"))
    assert {s: m for s, m in shipped.items() if m is not None} == KOLLA_MAJOR_BY_SERIES
    assert [s for s, m in shipped.items() if m is None] == ["2015.2", "2016.1", "2016.2"]


def test_image_tags_name_release_distro_and_version():
    tag = ImageTag.objects.get(image__name="nova-compute", release__series="2026.1", distro="rocky")
    assert tag.tag == "2026.1-rocky-10"


def test_release_api_lists_in_order_and_filters(api_as, viewer):
    api = api_as(viewer)
    body = api.get("/api/releases/", {"slurp": "true"}).json()
    assert [r["series"] for r in body["results"]] == ["2023.1", "2024.1", "2025.1", "2026.1", "2027.1"]
    assert api.get("/api/releases/2026.1/").json()["name"] == "Gazpacho"


def test_admin_edits_release_status_viewer_cannot(api_as, admin_user, viewer):
    assert (
        api_as(viewer).patch("/api/releases/2025.2/", {"status": "unmaintained"}, format="json").status_code
        == 403
    )
    response = api_as(admin_user).patch("/api/releases/2025.2/", {"status": "unmaintained"}, format="json")
    assert response.status_code == 200, response.content
    assert Release.objects.get(series="2025.2").status == "unmaintained"


def test_image_api_filters_by_matrix_cell(api_as, viewer):
    body = api_as(viewer).get(
        "/api/images/", {"distro": "rocky", "arch": "aarch64", "availability": "not_available"}
    )
    names = {image["name"] for image in body.json()["results"]}
    assert "nova-serialproxy" in names and "nova-compute" not in names


def test_image_list_query_count_does_not_grow_with_rows(api_as, viewer, django_assert_max_num_queries):
    api = api_as(viewer)
    with django_assert_max_num_queries(8) as before:
        api.get("/api/images/", {"limit": 500})
    Image.objects.bulk_create(Image(name=f"extra-{i}", service="extra") for i in range(60))
    with django_assert_max_num_queries(len(before.captured_queries)):
        response = api.get("/api/images/", {"limit": 500})
    assert len(response.json()["results"]) == Image.objects.count()


def test_support_tier_api_lists_rules(api_as, viewer):
    tiers = api_as(viewer).get("/api/support-tiers/").json()["results"]
    assert [t["name"] for t in tiers] == ["maintained", "best effort", "unmaintained"]
    assert SupportTier.objects.get(name="unmaintained").flagged


def test_support_matrix_page_shows_the_grid(client_as, viewer):
    page = client_as(viewer).get("/catalog/matrix/").content.decode()
    assert "nova-compute" in page and "aarch64" in page and "ferry-cell-not_available" in page


def test_outsider_cannot_read_the_catalog(client_as, api_as, outsider):
    assert client_as(outsider).get("/catalog/releases/").status_code == 403
    assert api_as(outsider).get("/api/releases/").status_code == 403


def test_release_page_lists_legal_hops_and_tags(client_as, viewer):
    page = client_as(viewer).get("/catalog/releases/2025.1/").content.decode()
    assert "2025.2" in page and "2026.1" in page  # next release, and next SLURP
    assert "2025.1-rocky-9" in page


def test_image_page_shows_matrix_tier_and_tags(client_as, viewer):
    page = client_as(viewer).get("/catalog/images/nova-compute/").content.decode()
    assert "maintained" in page and "2026.1-rocky-10" in page and "aarch64" in page
    assert client_as(viewer).get("/catalog/images/no-such-image/").status_code == 404
