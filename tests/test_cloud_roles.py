"""Roles on one cloud only: each endpoint, as each role on the cloud, globally and as an outsider."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.clouds import services
from apps.clouds.models import CloudMembership
from apps.jobs.models import Job
from apps.jobs.permissions import may_view_job
from apps.jobs.services import launch_job
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["demo_viewer", "demo_operator", "demo_approver", "demo_admin", "global_viewer", "outsider"]


@pytest.fixture
def other_cloud(catalog):
    return services.create_cloud(None, slug="other", release="2025.1", description="someone else's")


@pytest.fixture
def people(demo_cloud, other_cloud, viewer, outsider):
    """Users whose only role is one on the demo cloud, plus a global viewer and an outsider."""
    users = {"global_viewer": viewer, "outsider": outsider}
    for role in ("viewer", "operator", "approver", "admin"):
        user = UserFactory(username=f"demo-{role}")
        CloudMembership.objects.create(cloud=demo_cloud, user=user, role=role)
        users[f"demo_{role}"] = user
    return users


def _allowed(persona: str, *holders: str) -> bool:
    return persona in holders


READERS = ("demo_viewer", "demo_operator", "demo_approver", "demo_admin", "global_viewer")
OPERATORS = ("demo_operator", "demo_admin")
ADMINS = ("demo_admin",)


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_follow_the_role_on_each_cloud(client_as, people, persona):
    client = client_as(people[persona])
    reads = _allowed(persona, *READERS)
    assert client.get("/clouds/demo/").status_code == (200 if reads else 404)
    other = client.get("/clouds/other/").status_code
    assert other == (200 if persona == "global_viewer" else 404)
    listing = client.get("/clouds/").content.decode()
    assert ("/clouds/demo/" in listing) == reads
    assert ("/clouds/other/" in listing) == (persona == "global_viewer")
    assert client.get("/clouds/demo/jobs/new/").status_code == (
        200 if _allowed(persona, *OPERATORS) else 403 if reads else 404
    )
    assert client.get("/clouds/demo/edit/").status_code == (
        200 if _allowed(persona, *ADMINS) else 403 if reads else 404
    )
    assert client.get("/catalog/releases/").status_code == (200 if reads else 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_follows_the_role_on_each_cloud(api_as, people, persona, no_worker):
    api = api_as(people[persona])
    reads = _allowed(persona, *READERS)
    slugs = {c["slug"] for c in api.get("/api/clouds/").json().get("results", [])} if reads else set()
    assert slugs == ({"demo", "other"} if persona == "global_viewer" else {"demo"} if reads else set())
    assert api.get("/api/clouds/demo/").status_code == (
        200 if reads else 403 if persona == "outsider" else 404
    )
    launch = api.post("/api/jobs/", {"cloud": "demo", "kind": "prechecks"}, format="json")
    assert launch.status_code == (201 if _allowed(persona, *OPERATORS) else 403 if reads else 404), (
        launch.content
    )
    on_other = api.post("/api/jobs/", {"cloud": "other", "kind": "prechecks"}, format="json")
    assert on_other.status_code in ((400, 404) if persona != "global_viewer" else (403,))
    edit = api.patch("/api/clouds/demo/", {"description": "changed"}, format="json")
    assert edit.status_code == (200 if _allowed(persona, *ADMINS) else 403)
    create = api.post("/api/clouds/", {"slug": "mine", "description": "x"}, format="json")
    assert create.status_code == 403  # defining clouds needs the global admin role
    members = api.get("/api/clouds/demo/members/")
    assert members.status_code == (200 if reads else 403)


def test_jobs_of_a_cloud_are_seen_only_by_its_members(people, demo_cloud, other_cloud, admin_user, no_worker):
    mine = launch_job(admin_user, demo_cloud, "prechecks")
    theirs = launch_job(admin_user, other_cloud, "prechecks")
    viewer = people["demo_viewer"]
    assert may_view_job(viewer, mine.pk) and not may_view_job(viewer, theirs.pk)
    assert may_view_job(people["global_viewer"], theirs.pk)
    assert Job.objects.count() == 2


def test_a_global_viewer_who_operates_one_cloud_operates_only_that_one(
    api_as, viewer, demo_cloud, other_cloud, no_worker
):
    CloudMembership.objects.create(cloud=demo_cloud, user=viewer, role="operator")
    api = api_as(viewer)
    assert api.post("/api/jobs/", {"cloud": "demo", "kind": "prechecks"}, format="json").status_code == 201
    assert api.post("/api/jobs/", {"cloud": "other", "kind": "prechecks"}, format="json").status_code == 403


def test_cloud_admins_grant_and_revoke_roles_audited(api_as, client_as, people, demo_cloud):
    admin, operator = people["demo_admin"], people["demo_operator"]
    newcomer = UserFactory(username="nina-newcomer")
    refused = api_as(operator).post(
        "/api/clouds/demo/members/", {"username": "nina-newcomer", "role": "viewer"}, format="json"
    )
    assert refused.status_code == 403 and not newcomer.cloud_memberships.exists()
    granted = api_as(admin).post(
        "/api/clouds/demo/members/", {"username": "nina-newcomer", "role": "operator"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    assert granted.json()["username"] == "nina-newcomer" and granted.json()["role"] == "operator"
    entry = AuditEntry.objects.get(action="cloud.member_granted")
    assert entry.detail == {"user": "nina-newcomer", "role": "operator"} and entry.cloud_slug == "demo"
    bad = api_as(admin).post(
        "/api/clouds/demo/members/", {"username": "nobody", "role": "viewer"}, format="json"
    )
    assert bad.status_code == 400 and "username" in bad.json()
    bad_role = api_as(admin).post(
        "/api/clouds/demo/members/", {"username": "nina-newcomer", "role": "emperor"}, format="json"
    )
    assert bad_role.status_code == 400 and "role" in bad_role.json()
    page = (
        client_as(admin)
        .post(f"/clouds/demo/members/{granted.json()['id']}/remove/", follow=True)
        .content.decode()
    )
    assert "Role removed." in page and not newcomer.cloud_memberships.exists()
    assert AuditEntry.objects.filter(action="cloud.member_revoked").count() == 1
    added = client_as(admin).post("/clouds/demo/members/", {"username": "nina-newcomer", "role": "viewer"})
    assert added.status_code == 302 and newcomer.cloud_memberships.get().role == "viewer"
    assert (
        client_as(operator).post("/clouds/demo/members/", {"username": "x", "role": "viewer"}).status_code
        == 403
    )
