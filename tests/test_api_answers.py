"""API answers that schema fuzzing found wrong: each is a 4xx JSON answer or matches the schema."""

from __future__ import annotations

import pytest

from apps.catalog.models import SupportTier

pytestmark = pytest.mark.django_db


def test_a_cursor_the_api_did_not_give_out_is_a_400_naming_the_field(api_as, viewer, demo_cloud):
    response = api_as(viewer).get("/api/hosts/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_an_api_url_that_matches_nothing_answers_json(api_as, viewer):
    response = api_as(viewer).get("/api/releases/%C3%96%2A/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_pages_that_match_nothing_stay_html(client_as, viewer):
    response = client_as(viewer).get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_deleting_a_support_tier_still_in_use_is_refused(api_as, admin_user, catalog):
    tier = SupportTier.objects.filter(rules__isnull=False).first()
    response = api_as(admin_user).delete(f"/api/support-tiers/{tier.pk}/")
    assert response.status_code == 409  # a conflict with what uses it, named
    assert "rule" in response.json()["detail"]
    assert SupportTier.objects.filter(pk=tier.pk).exists()


def test_cloud_answers_after_create_and_patch_hold_every_field(api_as, admin_user, catalog):
    api = api_as(admin_user)
    created = api.post("/api/clouds/", {"slug": "north"}, format="json").json()
    patched = api.patch("/api/clouds/north/", {"region": "R2"}, format="json").json()
    for body in (created, patched):
        assert body["release"] is None and body["host_count"] == 0 and body["cell_count"] == 0


def test_the_schema_says_a_host_may_be_in_no_cell(api_as, viewer, demo_cloud):
    api = api_as(viewer)
    hosts = api.get("/api/hosts/", {"cloud": "demo", "group": "control"}).json()["results"]
    assert hosts[0]["cell"] is None
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["schemas"]["Host"]["properties"]["cell"]["nullable"] is True
