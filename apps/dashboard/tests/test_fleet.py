"""The dashboard's fleet: clouds by release series and support status, jobs that wait for someone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.clouds import services
from apps.clouds.models import Cloud, CloudMembership, CloudState
from apps.dashboard.fleet import fleet
from apps.jobs.models import Job, JobState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_health_checks(monkeypatch):
    """The health checks have tests of their own; here they would only wait for a worker."""
    monkeypatch.setattr(
        "apps.dashboard.views.run_checks", lambda: {"mode": "test", "status": "ok", "down": [], "checks": {}}
    )


@pytest.fixture
def clouds(catalog):
    """Five clouds: two on 2025.2 (one upgrading), one on 2025.1, one on 2026.1, one not deployed."""
    made = {}
    for slug, release, state in (
        ("alpha", "2025.2", CloudState.DEPLOYED),
        ("bravo", "2025.2", CloudState.UPGRADING),
        ("charlie", "2025.1", CloudState.DEGRADED),
        ("delta", "2026.1", CloudState.DEPLOYED),
        ("echo", None, CloudState.PLANNED),
    ):
        made[slug] = services.create_cloud(None, slug=slug, release=release)
        Cloud.objects.filter(pk=made[slug].pk).update(state=state)
    return made


def job(cloud: Cloud, state: str, user=None) -> Job:
    return Job.objects.create(cloud=cloud, kind="cell-rollout", mutating=True, state=state, requested_by=user)


def test_fleet_groups_clouds_by_series_newest_first_with_support_today(clouds, viewer):
    view = fleet(viewer)
    groups = [(g.release.series if g.release else None, [c.slug for c in g.clouds]) for g in view.groups]
    assert groups == [
        ("2026.1", ["delta"]),
        ("2025.2", ["alpha", "bravo"]),
        ("2025.1", ["charlie"]),
        (None, ["echo"]),
    ]
    on = {g.release.series: g for g in view.groups if g.release}
    # As on 2026-12-03 (the tests' day): 2025.1 is unmaintained, 2025.2 maintained until its end of life.
    assert (on["2025.1"].status, on["2025.1"].next_change) == ("unmaintained", None)
    assert on["2025.2"].status == "maintained" and on["2025.2"].next_change[0] == "end of life"
    assert str(on["2025.2"].next_change[1]) == "2027-04-28"


def test_fleet_counts_clouds_per_state_and_per_support_status(clouds, viewer):
    view = fleet(viewer)
    assert view.cloud_count == 5
    assert view.by_state == [("planned", 1), ("deployed", 2), ("upgrading", 1), ("degraded", 1)]
    assert view.by_status == [("maintained", "maintained", 3), ("unmaintained", "unmaintained", 1)]


def test_attention_lists_the_waiting_jobs_of_visible_clouds_only(clouds, operator):
    waiting = job(clouds["alpha"], JobState.WAITING, operator)
    job(clouds["charlie"], JobState.WAITING)
    job(clouds["bravo"], JobState.RUNNING)
    job(clouds["delta"], JobState.SUCCEEDED)
    member = UserFactory(username="alpha-viewer")
    CloudMembership.objects.create(cloud=clouds["alpha"], user=member, role="viewer")
    view = fleet(member)
    assert [g.clouds[0].slug for g in view.groups] == ["alpha"] and view.cloud_count == 1
    assert [j.pk for j in view.attention] == [waiting.pk]
    assert len(fleet(operator).attention) == 2


def test_jobs_awaiting_approval_need_attention_with_those_waiting_at_a_gate(clouds, operator):
    waiting = job(clouds["alpha"], JobState.WAITING)
    awaiting = job(clouds["bravo"], JobState.AWAITING_APPROVAL)
    job(clouds["bravo"], JobState.QUEUED)
    assert [j.pk for j in fleet(operator).attention] == [waiting.pk, awaiting.pk]


def test_outsider_sees_no_cloud_and_no_job(clouds, outsider, client_as):
    job(clouds["alpha"], JobState.WAITING)
    view = fleet(outsider)
    assert view.groups == [] and view.attention == [] and view.cloud_count == 0
    page = client_as(outsider).get("/").content.decode()
    assert "You see no cloud yet." in page and "alpha" not in page


def test_dashboard_page_shows_series_counts_and_waiting_jobs(clouds, viewer, operator, client_as):
    waiting = job(clouds["bravo"], JobState.WAITING, operator)
    page = client_as(viewer).get("/").content.decode()
    fleet_html = page[page.index('<section id="fleet">') :]
    rows = re.findall(r'<tr class="ferry-fleet-series">(.*?)</tr>', fleet_html, re.S)
    assert len(rows) == 4
    assert "2025.2" in rows[1] and "maintained" in rows[1] and "2027-04-28" in rows[1]
    assert "/clouds/alpha/" in rows[1] and "/clouds/bravo/" in rows[1] and "upgrading" in rows[1]
    assert "not deployed yet" in rows[3] and "/clouds/echo/" in rows[3]
    assert "5 clouds" in fleet_html and "deployed 2" in fleet_html and "unmaintained 1" in fleet_html
    attention = page[page.index('<section id="attention">') : page.index('<section id="fleet">')]
    assert f'href="/jobs/{waiting.pk}/"' in attention and "otto-operator" in attention


def test_dashboard_lists_what_is_scheduled_soonest_first(clouds, viewer, operator, client_as):
    later, sooner = (
        job(clouds["alpha"], JobState.SCHEDULED, operator),
        job(clouds["bravo"], JobState.SCHEDULED),
    )
    Job.objects.filter(pk=later.pk).update(
        scheduled_for=datetime(2026, 12, 12, 1, tzinfo=UTC),
        scheduled_reason="outside every maintenance window",
    )
    Job.objects.filter(pk=sooner.pk).update(scheduled_for=datetime(2026, 12, 5, 1, tzinfo=UTC))
    assert [j.pk for j in fleet(viewer).scheduled] == [sooner.pk, later.pk]
    assert fleet(viewer).attention == []  # a scheduled job waits for its window, not for a person
    page = client_as(viewer).get("/").content.decode()
    scheduled = page[page.index('<section id="scheduled">') : page.index('<section id="fleet">')]
    assert "2026-12-12 01:00" in scheduled and "outside every maintenance window" in scheduled


def test_dashboard_takes_as_many_queries_for_a_large_fleet_as_for_a_small_one(
    clouds, viewer, operator, client_as
):
    client = client_as(viewer)
    job(clouds["alpha"], JobState.WAITING, operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/").status_code == 200
        return len(captured)

    small = queries()
    for i in range(20):
        cloud = services.create_cloud(None, slug=f"more{i:02d}", release=("2024.1", "2025.2", None)[i % 3])
        job(cloud, JobState.WAITING, operator)
        job(cloud, JobState.SCHEDULED, operator)
    assert queries() == small
