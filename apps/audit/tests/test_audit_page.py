"""The audit page, its exports and GET /api/audit/: filters, pagination, and who sees what."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.audit.services import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(demo_cloud, admin_user, operator, viewer):
    """A catalog change by the admin, a cloud change, the viewer's own login, a stranger's failed login."""
    from apps.catalog.models import Release

    record(admin_user, "release.update", Release.objects.get(series="2025.2"), detail={"changed": ["status"]})
    record(operator, "job.launch", demo_cloud, detail={"kind": "deploy"})
    record(viewer, "auth.login", detail={"address": "192.0.2.1"})
    record(None, "auth.login_failed", actor_name="anonymous", detail={"username": "=cmd|' /C calc'!A0"})
    return AuditEntry.objects.order_by("id")


def _actions(rows) -> list[str]:
    return sorted(row["action"] for row in rows)


def test_an_admin_reads_every_entry(api_as, admin_user, trail):
    rows = api_as(admin_user).get("/api/audit/").json()["results"]
    assert len(rows) == AuditEntry.objects.count()


def test_a_viewer_reads_the_entries_of_clouds_they_see_and_their_own(api_as, viewer, trail):
    rows = api_as(viewer).get("/api/audit/").json()["results"]
    actions = _actions(rows)
    assert "job.launch" in actions and "auth.login" in actions
    assert "release.update" not in actions and "auth.login_failed" not in actions
    assert {row["cloud"] for row in rows} <= {"demo", ""}


def test_an_outsider_reads_nothing(api_as, client_as, outsider, trail):
    assert api_as(outsider).get("/api/audit/").status_code == 403
    client = client_as(outsider)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert client.get("/audit/export.json").status_code == 403
    assert 'href="/audit/"' not in client.get("/clouds/").content.decode()


def test_the_api_filters_by_actor_cloud_action_prefix_and_time(api_as, admin_user, operator, trail):
    api = api_as(admin_user)

    def actions(**query) -> list[str]:
        response = api.get("/api/audit/", query)
        assert response.status_code == 200, response.content
        return _actions(response.json()["results"])

    assert actions(actor=operator.username) == ["job.launch"]
    assert actions(cloud="demo", action="job.") == ["job.launch"]
    assert actions(action="auth.") == ["auth.login", "auth.login_failed"]
    now = timezone.now()
    assert actions(since=(now + timedelta(hours=1)).isoformat()) == []
    assert "release.update" in actions(until=(now + timedelta(hours=1)).isoformat())
    assert api.get("/api/audit/", {"since": "yesterday"}).status_code == 400


def test_a_time_with_an_offset_postgresql_refuses_is_read_in_utc(api_as, admin_user, trail):
    api = api_as(admin_user)
    # Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59: this one was a 500 there.
    response = api.get("/api/audit/", {"until": "4026-03-26T00:56:28.0+17:41"})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == trail.count()
    response = api.get("/api/audit/", {"since": "9999-12-31T23:59:00-23:00"})
    assert response.status_code == 400 and "since" in response.json()


def test_the_api_is_read_only_and_in_the_schema(api_as, admin_user, trail):
    api = api_as(admin_user)
    entry = trail.first()
    assert api.post("/api/audit/", {"action": "forged"}, format="json").status_code == 405
    assert api.delete(f"/api/audit/{entry.pk}/").status_code == 405
    assert api.patch(f"/api/audit/{entry.pk}/", {"action": "x"}, format="json").status_code == 405
    body = api.get(f"/api/audit/{entry.pk}/").json()
    assert body["hash"] == entry.hash and body["prev_hash"] == entry.prev_hash
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(schema["paths"]["/api/audit/"]) == {"get"}
    names = {p["name"] for p in schema["paths"]["/api/audit/"]["get"]["parameters"]}
    assert {"actor", "cloud", "action", "since", "until"} <= names


def test_the_api_list_query_count_does_not_grow_with_rows(
    api_as, viewer, trail, django_assert_max_num_queries
):
    api = api_as(viewer)
    with django_assert_max_num_queries(8) as before:
        api.get("/api/audit/")
    for n in range(30):
        record(viewer, "test.more", detail={"n": n})
    with django_assert_max_num_queries(len(before.captured_queries)):
        assert len(api.get("/api/audit/").json()["results"]) > 30


def test_the_page_shows_filters_entries_and_a_link_in_the_navigation(client_as, viewer, trail):
    page = client_as(viewer).get("/audit/", {"cloud": "demo"}).content.decode()
    assert 'href="/audit/"' in page
    assert "job.launch" in page and "otto-operator" in page
    assert "auth.login<" not in page  # filtered to the cloud
    assert 'href="/audit/export.csv?cloud=demo"' in page


def test_the_page_refuses_a_bad_time_with_400_naming_it(client_as, viewer, trail):
    response = client_as(viewer).get("/audit/", {"since": "not a time"})
    assert response.status_code == 400 and "since" in response.content.decode()


def test_the_page_pages_by_keyset(client_as, admin_user, trail):
    for n in range(60):
        record(admin_user, "test.page", detail={"n": n})
    client = client_as(admin_user)
    first = client.get("/audit/", {"action": "test."})
    content = first.content.decode()
    assert content.count("<code>test.page</code>") == 50
    next_query = first.context["next_query"]
    assert "before=" in next_query
    rest = client.get(f"/audit/?{next_query}").content.decode()
    assert rest.count("<code>test.page</code>") == 10 and "Older entries" not in rest


def test_csv_export_streams_the_filtered_entries_safely_for_spreadsheets(client_as, admin_user, trail):
    response = client_as(admin_user).get("/audit/export.csv", {"action": "auth."})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["action"] for r in rows} == {"auth.login", "auth.login_failed"}  # logging in is audited too
    failed = next(r for r in rows if r["action"] == "auth.login_failed")
    assert json.loads(failed["detail"])["username"].startswith("=")  # JSON text starts with {, kept
    assert all(r["hash"] for r in rows)


def test_csv_export_defuses_cells_that_look_like_formulas(client_as, admin_user, db):
    record(None, "auth.login_failed", actor_name='=HYPERLINK("http://evil")')
    response = client_as(admin_user).get("/audit/export.csv")
    text = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in text


def test_json_export_streams_the_filtered_entries_a_viewer_may_read(client_as, viewer, trail):
    response = client_as(viewer).get("/audit/export.json")
    assert response.streaming and "attachment" in response["Content-Disposition"]
    rows = json.loads(b"".join(response.streaming_content))
    assert set(_actions(rows)) == {"auth.login", "job.launch", "cloud.create", "cloud.import_inventory"}
    assert all(row["cloud_slug"] == "demo" or row["actor_name"] == viewer.username for row in rows)
