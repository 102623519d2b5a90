"""Catalog writes through the API go through services: each is audited with before and after, and
deleting something still in use is a 409 naming what uses it."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.catalog.models import Release, SupportRule, SupportTier

pytestmark = pytest.mark.django_db


def _entry(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("id")


def test_patching_a_release_is_audited_before_and_after(api_as, admin_user):
    """Reproduction: this PATCH answered 200 and recorded nothing."""
    response = api_as(admin_user).patch(
        "/api/releases/2025.2/", {"status": "unmaintained"}, format="json", HTTP_X_REQUEST_ID="patch-1"
    )
    assert response.status_code == 200, response.content
    entry = _entry("release.update")
    assert entry.actor == admin_user and entry.object_repr == "2025.2 Flamingo"
    assert entry.detail == {
        "changed": ["status"],
        "before": {"status": "maintained"},
        "after": {"status": "unmaintained"},
    }
    assert entry.request_id == "patch-1" and entry.source_address == "127.0.0.1"


def test_a_patch_that_changes_nothing_writes_nothing(api_as, admin_user):
    status = Release.objects.get(series="2025.2").status
    response = api_as(admin_user).patch("/api/releases/2025.2/", {"status": status}, format="json")
    assert response.status_code == 200
    assert not AuditEntry.objects.filter(action="release.update").exists()


def test_creating_a_release_is_audited(api_as, admin_user):
    body = {"series": "2027.2", "name": "Jasmine", "status": "future", "position": 99}
    response = api_as(admin_user).post("/api/releases/", body, format="json")
    assert response.status_code == 201, response.content
    assert _entry("release.create").detail["after"]["name"] == "Jasmine"


def test_a_refused_release_creates_nothing_and_audits_nothing(api_as, admin_user):
    body = {"series": "1999.9", "name": "Nope", "status": "future", "position": 98}
    response = api_as(admin_user).post("/api/releases/", body, format="json")
    assert response.status_code == 400 and "series" in response.json()
    assert not AuditEntry.objects.exists()


def test_deleting_a_release_in_use_is_a_409_naming_the_cloud(api_as, admin_user, demo_cloud):
    """Reproduction: deleting a release in use answered 500."""
    api = api_as(admin_user)
    api.raise_request_exception = False
    response = api.delete("/api/releases/2025.1/")
    assert response.status_code == 409, response.content
    assert "cloud demo" in response.json()["detail"]
    assert Release.objects.filter(series="2025.1").exists()
    assert not AuditEntry.objects.filter(action="release.delete").exists()


def test_deleting_a_release_an_unfinished_job_targets_is_refused(api_as, admin_user, demo_cloud, no_worker):
    from apps.jobs.services import launch_job

    job = launch_job(admin_user, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True)
    response = api_as(admin_user).delete("/api/releases/2025.2/")
    assert response.status_code == 409 and f"unfinished job #{job.pk}" in response.json()["detail"]


def test_deleting_an_unused_release_is_audited_with_what_it_was(api_as, admin_user):
    response = api_as(admin_user).delete("/api/releases/2027.1/")
    assert response.status_code == 204, response.content
    assert not Release.objects.filter(series="2027.1").exists()
    entry = _entry("release.delete")
    assert entry.detail["before"]["name"] == "Indri" and entry.object_id


def test_tier_create_update_and_delete_are_audited(api_as, admin_user):
    api = api_as(admin_user)
    response = api.post("/api/support-tiers/", {"name": "experimental", "rank": 9}, format="json")
    assert response.status_code == 201, response.content
    tier_id = response.json()["id"]
    assert _entry("supporttier.create").detail["after"]["name"] == "experimental"

    response = api.patch(f"/api/support-tiers/{tier_id}/", {"flagged": True}, format="json")
    assert response.status_code == 200
    assert _entry("supporttier.update").detail["after"] == {"flagged": True}

    assert api.delete(f"/api/support-tiers/{tier_id}/").status_code == 204
    assert _entry("supporttier.delete").detail["before"]["name"] == "experimental"


def test_deleting_a_tier_that_rules_assign_is_a_409_naming_them(api_as, admin_user):
    tier = SupportTier.objects.get(name="maintained")
    rule = SupportRule.objects.filter(tier=tier).order_by("subject_type", "subject").first()
    response = api_as(admin_user).delete(f"/api/support-tiers/{tier.pk}/")
    assert response.status_code == 409
    assert f"{rule.subject_type} {rule.subject}" in response.json()["detail"]
    assert SupportTier.objects.filter(pk=tier.pk).exists()


def test_a_viewer_writes_nothing_and_nothing_is_audited(api_as, viewer):
    api = api_as(viewer)
    assert api.patch("/api/releases/2025.2/", {"status": "eol"}, format="json").status_code == 403
    assert api.delete("/api/releases/2027.1/").status_code == 403
    assert not AuditEntry.objects.exists()
