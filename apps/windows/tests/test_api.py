"""Windows and freezes over the API and on the cloud page: who reads, who changes, what is shown."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.clouds.models import CloudMembership
from apps.jobs import services as jobs
from apps.windows.models import ChangeFreeze, MaintenanceWindow
from apps.windows.tests.conftest import closed_now, opening_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WINDOW = {"weekdays": [5], "start_time": "01:00", "end_time": "05:00", "timezone": "Europe/Berlin"}
FREEZE = {
    "starts_at": "2026-12-20T00:00",
    "ends_at": "2027-01-02T00:00",
    "timezone": "Europe/Berlin",
    "reason": "year-end",
}
BODY = {"windows": WINDOW, "freezes": FREEZE}
# Global personas and users whose only role is one on the demo cloud.
PERSONAS = ["viewer", "operator", "admin_user", "outsider", "demo_viewer", "demo_operator", "demo_admin"]
READ = {"viewer": 200, "operator": 200, "admin_user": 200, "outsider": 403}
WRITE = {"viewer": 403, "operator": 403, "admin_user": 201, "outsider": 403}
READ |= {"demo_viewer": 200, "demo_operator": 200, "demo_admin": 200}
WRITE |= {"demo_viewer": 403, "demo_operator": 403, "demo_admin": 201}


@pytest.fixture
def people(request, demo_cloud):
    users = {name: request.getfixturevalue(name) for name in ("viewer", "operator", "admin_user", "outsider")}
    for role in ("viewer", "operator", "admin"):
        user = UserFactory(username=f"demo-{role}")
        CloudMembership.objects.create(cloud=demo_cloud, user=user, role=role)
        users[f"demo_{role}"] = user
    return users


def stored(resource: str, cloud):
    if resource == "windows":
        return MaintenanceWindow.objects.create(
            cloud=cloud, weekdays=[1], start_time=time(1), duration=timedelta(hours=1), timezone="UTC"
        )
    now = timezone.now()
    return ChangeFreeze.objects.create(
        cloud=cloud, starts_at=now, ends_at=now + timedelta(days=1), reason="r"
    )


@pytest.mark.parametrize("resource", ["windows", "freezes"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_members_read_and_only_cloud_admins_change_windows_and_freezes(
    api_as, people, demo_cloud, persona, resource
):
    client = api_as(people[persona])
    url = f"/api/clouds/demo/{resource}/"
    assert client.get(url).status_code == READ[persona]
    created = client.post(url, BODY[resource], format="json")
    assert created.status_code == WRITE[persona], created.content
    row = stored(resource, demo_cloud)
    assert client.delete(f"{url}{row.pk}/").status_code == (204 if WRITE[persona] == 201 else 403)
    model = type(row)
    assert model.objects.filter(pk=row.pk).exists() == (WRITE[persona] != 201)
    name = model._meta.model_name
    audited = set(AuditEntry.objects.filter(actor=people[persona]).values_list("action", flat=True))
    assert ({f"{name}.create", f"{name}.delete"} <= audited) == (WRITE[persona] == 201)


def test_members_of_another_cloud_get_404(api_as, people, catalog):
    from apps.clouds import services

    services.create_cloud(None, slug="other", release="2025.1")
    client = api_as(people["demo_admin"])
    assert client.get("/api/clouds/other/windows/").status_code == 404
    assert client.post("/api/clouds/other/freezes/", FREEZE, format="json").status_code == 404


def test_a_window_and_a_freeze_as_the_api_answers_them(api_as, admin_user, demo_cloud):
    client = api_as(admin_user)
    window = client.post("/api/clouds/demo/windows/", {**WINDOW, "label": "patching"}, format="json").json()
    assert window["duration"] == "04:00:00" and window["weekdays"] == [5]
    assert window["description"] == "Sat 01:00–05:00 Europe/Berlin (patching)"
    freeze = client.post("/api/clouds/demo/freezes/", FREEZE, format="json").json()
    assert freeze["cloud"] == "demo" and freeze["reason"] == "year-end"
    assert datetime.fromisoformat(freeze["starts_at"]) == datetime(2026, 12, 19, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**WINDOW, "timezone": "Mars/Olympus"}, "timezone"),
        ({**WINDOW, "end_time": None, "duration": "00:00:00"}, "duration"),
        ({**WINDOW, "end_time": None, "duration": "8 00:00:00"}, "duration"),
        ({**WINDOW, "weekdays": [9]}, "weekdays"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_field(api_as, admin_user, demo_cloud, body, field):
    body = {k: v for k, v in body.items() if v is not None}
    answer = api_as(admin_user).post("/api/clouds/demo/windows/", body, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [({"ends_at": "2026-12-01T00:00"}, "ends_at"), ({"timezone": "Nowhere/Land"}, "timezone")],
)
def test_a_bad_freeze_is_a_400_naming_the_field(api_as, admin_user, demo_cloud, change, field):
    answer = api_as(admin_user).post("/api/clouds/demo/freezes/", {**FREEZE, **change}, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_global_freezes_are_read_by_members_and_changed_by_global_admins(api_as, people, persona):
    client = api_as(people[persona])
    assert client.get("/api/freezes/").status_code == (403 if persona == "outsider" else 200)
    created = client.post("/api/freezes/", FREEZE, format="json")
    assert created.status_code == (201 if persona == "admin_user" else 403)
    row = stored("freezes", None)
    assert client.delete(f"/api/freezes/{row.pk}/").status_code == (204 if persona == "admin_user" else 403)


def test_a_cloud_freeze_is_not_listed_or_lifted_as_a_global_one(api_as, admin_user, demo_cloud):
    row = stored("freezes", demo_cloud)
    client = api_as(admin_user)
    assert client.get("/api/freezes/").json() == []
    assert client.delete(f"/api/freezes/{row.pk}/").status_code == 404


def test_listing_windows_takes_a_fixed_number_of_queries(
    api_as, viewer, demo_cloud, django_assert_max_num_queries
):
    for _ in range(5):
        stored("windows", demo_cloud)
    client = api_as(viewer)
    client.get("/api/clouds/demo/windows/")
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/clouds/demo/windows/").json()) == 5


def test_the_status_says_closed_why_and_when_it_opens(api_as, viewer, demo_cloud):
    window = closed_now(demo_cloud)
    status = api_as(viewer).get("/api/clouds/demo/windows/status/").json()
    assert status["open"] is False and status["restricted"] is True
    assert datetime.fromisoformat(status["next_opening"]) == opening_of(window)
    assert "patch night" in status["reason"] and "patch night" in status["opens_with"]


def test_the_cloud_page_shows_the_next_window_and_the_jobs_waiting_for_it(
    client_as, operator, admin_user, demo_cloud, no_worker
):
    window = closed_now(demo_cloud)
    job = jobs.launch_job(
        operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
    )
    page = client_as(operator).get("/clouds/demo/").content.decode()
    assert 'id="windows"' in page and "Closed to changes" in page
    assert f"{opening_of(window):%Y-%m-%d %H:%M} UTC" in page and "patch night" in page
    assert f'href="/jobs/{job.pk}/"' in page.split('id="windows"')[1]
    assert "Add a maintenance window" not in page  # operators do not change windows
    admin_page = client_as(admin_user).get("/clouds/demo/").content.decode()
    assert "Add a maintenance window" in admin_page and "Freeze every cloud" in admin_page


def test_the_cloud_page_without_windows_says_it_is_always_open(client_as, viewer, demo_cloud):
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert "has no maintenance windows" in page


def test_cloud_admins_add_and_remove_windows_and_freezes_on_the_page(client_as, admin_user, demo_cloud):
    client = client_as(admin_user)
    form = {"weekdays": ["5", "6"], "start_time": "23:00", "end_time": "03:00", "timezone": "Europe/Berlin"}
    client.post("/clouds/demo/windows/", form)
    window = MaintenanceWindow.objects.get()
    assert window.weekdays == [5, 6] and window.duration == timedelta(hours=4)
    client.post(
        "/clouds/demo/freezes/",
        {
            "starts_at": "2026-12-20T00:00",
            "ends_at": "2027-01-02T00:00",
            "timezone": "Europe/Berlin",
            "reason": "year-end",
        },
    )
    freeze = ChangeFreeze.objects.get()
    assert freeze.cloud == demo_cloud and freeze.starts_at == datetime(2026, 12, 19, 23, tzinfo=UTC)
    refused = client.post("/clouds/demo/windows/", {**form, "timezone": "Mars/Olympus"}, follow=True)
    assert "unknown time zone" in refused.content.decode()
    client.post(f"/clouds/demo/windows/{window.pk}/remove/")
    client.post(f"/clouds/demo/freezes/{freeze.pk}/remove/")
    assert not MaintenanceWindow.objects.exists() and not ChangeFreeze.objects.exists()


def test_operators_cannot_change_windows_on_the_page(client_as, operator, demo_cloud):
    form = {"weekdays": ["5"], "start_time": "01:00", "end_time": "05:00", "timezone": "UTC"}
    assert client_as(operator).post("/clouds/demo/windows/", form).status_code == 403
    assert not MaintenanceWindow.objects.exists()
