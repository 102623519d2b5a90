"""A cloud's upgrade history: one row per job that moved its release, the API and the page's chart."""

from __future__ import annotations

import datetime
import itertools
import re

import pytest

from apps.approvals.models import Approval
from apps.catalog.models import Release
from apps.clouds import services
from apps.clouds.history import release_changes
from apps.clouds.models import Cloud, CloudMembership, ReleaseChange
from apps.jobs.models import Job, JobState, Step, StepState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 2, 8, 0, tzinfo=datetime.UTC)


def released_job(
    cloud: Cloud,
    kind: str,
    path: list[str | None],
    *,
    user=None,
    start: datetime.datetime = T0,
    hop_minutes: int = 60,
    state: str = JobState.SUCCEEDED,
) -> Job:
    """A ``kind`` job that took ``cloud`` along ``path`` (None first: no release before), one hop an hour,
    as the worker records it: a step started at ``start``, one history entry per hop."""
    hops = len(path) - 1
    job = Job.objects.create(
        cloud=cloud,
        kind=kind,
        mutating=True,
        state=state,
        requested_by=user,
        from_release=path[0] or "",
        # A resumed job's last attempt started later than its first step: started_at says the later.
        started_at=start + datetime.timedelta(minutes=5),
        finished_at=start + datetime.timedelta(minutes=hop_minutes * hops + 10)
        if state == JobState.SUCCEEDED
        else None,
    )
    Step.objects.create(
        job=job,
        ordinal=1,
        position=1,
        name="first",
        action="pull",
        playbook="site.yml",
        state=StepState.SUCCEEDED,
        started_at=start,
    )
    releases = {r.series: r for r in Release.objects.filter(series__in=[s for s in path if s])}
    for i, (frm, to) in enumerate(itertools.pairwise(path), start=1):
        change = ReleaseChange.objects.create(
            cloud=cloud, from_release=releases.get(frm), to_release=releases[to], job=job
        )
        at = start + datetime.timedelta(minutes=hop_minutes * i)
        ReleaseChange.objects.filter(pk=change.pk).update(at=at)
    return job


@pytest.fixture
def history(demo_cloud, operator, approver, admin_user):
    """demo: deployed at 2023.1, fast-forwarded to 2025.1 through 2024.1, rolled back to 2024.1."""
    deploy = released_job(demo_cloud, "deploy", [None, "2023.1"], user=operator, start=T0)
    month_later = T0 + datetime.timedelta(days=30)
    ffu = released_job(demo_cloud, "ffu", ["2023.1", "2024.1", "2025.1"], user=operator, start=month_later)
    rollback = released_job(
        demo_cloud, "rollback", ["2025.1", "2024.1"], start=T0 + datetime.timedelta(days=31), hop_minutes=90
    )
    Approval.objects.create(job=ffu, approver=approver, plan_hash="h")
    # An approval that lapsed when the plan changed approved nothing that ran.
    Approval.objects.create(job=ffu, approver=admin_user, plan_hash="old", lapsed_at=month_later)
    return {"deploy": deploy, "ffu": ffu, "rollback": rollback}


def test_history_has_one_row_per_job_newest_first_with_its_hops(history, demo_cloud):
    rows = release_changes(demo_cloud)
    assert [row.job_id for row in rows] == [history["rollback"].pk, history["ffu"].pk, history["deploy"].pk]
    rollback, ffu, deploy = rows
    assert ffu.path == ["2023.1", "2024.1", "2025.1"] and len(ffu.hops) == 2
    assert (ffu.from_release.series, ffu.to_release.series, ffu.direction) == ("2023.1", "2025.1", "up")
    assert ffu.requested_by == "otto-operator" and ffu.approved_by == ["alma-approver"]
    # Started at its first step, not at its last attempt; finished when the job did.
    assert ffu.started == T0 + datetime.timedelta(days=30)
    assert ffu.duration == datetime.timedelta(minutes=130) and ffu.duration_label == "2 h 10 min"
    assert (rollback.path, rollback.direction, rollback.requested_by) == (["2025.1", "2024.1"], "down", None)
    assert (deploy.from_release, deploy.path, deploy.direction) == (None, ["2023.1"], "first")


def test_a_job_waiting_between_hops_shows_the_hops_it_completed_and_no_end(demo_cloud, operator):
    released_job(demo_cloud, "ffu", ["2023.1", "2024.1"], user=operator, state=JobState.WAITING)
    (row,) = release_changes(demo_cloud)
    assert row.path == ["2023.1", "2024.1"] and row.state == "waiting"
    assert row.finished is None and row.duration is None and row.duration_label == "—"


def test_an_entry_whose_job_is_gone_is_a_row_of_its_own(demo_cloud):
    for series in ("2024.1", "2025.1"):
        ReleaseChange.objects.create(cloud=demo_cloud, to_release=Release.objects.get(series=series))
    rows = release_changes(demo_cloud)
    assert [(row.job_id, row.path) for row in rows] == [(None, ["2025.1"]), (None, ["2024.1"])]


def test_history_takes_three_queries_however_many_changes(demo_cloud, operator, django_assert_num_queries):
    for day in range(12):
        start = T0 + datetime.timedelta(days=day)
        released_job(demo_cloud, "ffu", ["2023.1", "2024.1", "2025.1"], user=operator, start=start)
    with django_assert_num_queries(3):
        rows = release_changes(demo_cloud)
        assert len(rows) == 12 and all(len(row.hops) == 2 for row in rows)


def test_api_serves_the_history_paged_newest_first(api_as, viewer, history, django_assert_max_num_queries):
    api = api_as(viewer)
    with django_assert_max_num_queries(6):
        first = api.get("/api/clouds/demo/history/", {"limit": 2}).json()
    assert "count" not in first and first["next"]
    ffu = first["results"][1]
    assert ffu["job"] == history["ffu"].pk and ffu["kind"] == "ffu" and ffu["direction"] == "up"
    assert (ffu["from"], ffu["to"], ffu["path"]) == ("2023.1", "2025.1", ["2023.1", "2024.1", "2025.1"])
    assert [(h["from"], h["to"]) for h in ffu["hops"]] == [("2023.1", "2024.1"), ("2024.1", "2025.1")]
    assert ffu["duration_seconds"] == 130 * 60 and ffu["requested_by"] == "otto-operator"
    assert ffu["approved_by"] == ["alma-approver"] and ffu["started"].startswith("2026-12-02T08:00")
    second = api.get(first["next"]).json()
    assert [row["job"] for row in second["results"]] == [history["deploy"].pk] and not second["next"]
    assert second["results"][0]["from"] is None and second["results"][0]["direction"] == "first"


def test_api_history_follows_the_role_on_each_cloud(api_as, history, catalog, outsider):
    services.create_cloud(None, slug="other", release="2025.1")
    other_viewer = UserFactory(username="other-viewer")
    CloudMembership.objects.create(cloud=Cloud.objects.get(slug="other"), user=other_viewer, role="viewer")
    demo_viewer = UserFactory(username="demo-viewer")
    CloudMembership.objects.create(cloud=Cloud.objects.get(slug="demo"), user=demo_viewer, role="viewer")
    assert api_as(demo_viewer).get("/api/clouds/demo/history/").status_code == 200
    # As the cloud's other sub-resources: a member of another cloud does not learn it exists.
    assert api_as(other_viewer).get("/api/clouds/demo/history/").status_code == 404
    assert api_as(other_viewer).get("/api/clouds/demo/members/").status_code == 404
    assert api_as(other_viewer).get("/api/clouds/other/history/").json()["results"] == []
    assert api_as(outsider).get("/api/clouds/demo/history/").status_code == 403


def test_cloud_page_draws_one_mark_per_change_and_the_same_rows_in_a_table(client_as, viewer, history):
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    svg = page[page.index("<svg") : page.index("</svg>")]
    marks = re.findall(r'<g class="change (\w+)" tabindex="0"><title>([^<]*)</title>', svg)
    assert sorted(css for css, _ in marks) == ["down", "first", "up"]
    titles = dict((css, title) for css, title in marks)
    assert "2023.1 → 2024.1 → 2025.1" in titles["up"]
    assert f"job #{history['ffu'].pk}" in titles["up"] and "otto-operator" in titles["up"]
    assert len(re.findall(r"<circle ", svg)) == 4  # one dot per hop
    lanes = set(re.findall(r">(20\d\d\.\d \w+)</text>", svg))
    assert lanes == {"2023.1 Antelope", "2024.1 Caracal", "2025.1 Epoxy"}
    table = page[page.index("</svg>") :]
    rows = re.findall(r"<tr><td><span class=\"ferry-badge (\w+)\">", table)
    assert rows == ["down", "up", "first"]
    assert "2023.1 → 2024.1 → 2025.1" in table and "2 h 10 min" in table


def test_cloud_page_without_a_release_change_says_so(client_as, viewer, demo_cloud):
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert "No release change yet." in page and "ferry-chart" not in page


def test_chart_stays_inside_its_box_from_one_to_fifty_changes(client_as, viewer, demo_cloud, operator):
    from apps.clouds.timeline import WIDTH, history_chart

    path = ["2023.1", "2024.1", "2025.1", "2024.1"]
    for i in range(50):
        start = T0 + datetime.timedelta(hours=7 * i)
        released_job(demo_cloud, "upgrade", path[i % 3 : i % 3 + 2], start=start)
        chart = history_chart(release_changes(demo_cloud))
        assert len(chart.marks) == i + 1
        for mark in chart.marks:
            assert chart.plot_left <= mark.x and mark.x + mark.width <= WIDTH and mark.width >= 4
            assert mark.y >= 0 and mark.y + mark.height <= chart.axis_y
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert page.count('<g class="change') == 50
