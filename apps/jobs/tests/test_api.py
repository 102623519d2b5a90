"""The jobs API and pages: launch with confirmation, permissions, event pages, log download."""

import json

import pytest

from apps.jobs.models import Job
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events

pytestmark = pytest.mark.django_db


def test_operator_launches_prechecks(api_as, operator, demo_cloud, no_worker):
    response = api_as(operator).post(
        "/api/jobs/", {"cloud": "demo", "kind": "prechecks", "params": {"release": "2025.1"}}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued" and [s["action"] for s in body["steps"]] == ["prechecks"]


def test_mutating_job_needs_confirmation_and_nothing_is_created(api_as, operator, demo_cloud, no_worker):
    response = api_as(operator).post(
        "/api/jobs/", {"cloud": "demo", "kind": "deploy", "params": {"release": "2025.1"}}, format="json"
    )
    assert response.status_code == 400 and "confirm" in response.json()
    assert not Job.objects.exists()
    response = api_as(operator).post(
        "/api/jobs/",
        {"cloud": "demo", "kind": "deploy", "params": {"release": "2025.1"}, "confirm": True},
        format="json",
    )
    assert response.status_code == 201


def test_bad_plan_is_a_400_naming_the_field(api_as, operator, demo_cloud, no_worker):
    response = api_as(operator).post(
        "/api/jobs/",
        {"cloud": "demo", "kind": "deploy", "params": {"release": "2026.1"}, "confirm": True},
        format="json",
    )
    assert response.status_code == 400 and "release" in response.json()
    assert not Job.objects.exists()


def test_viewer_cannot_launch_or_cancel(api_as, viewer, operator, demo_cloud, no_worker):
    api = api_as(viewer)
    assert api.post("/api/jobs/", {"cloud": "demo", "kind": "prechecks"}, format="json").status_code == 403
    job = make_job(demo_cloud, operator)
    assert api.post(f"/api/jobs/{job.pk}/cancel/").status_code == 403


def test_outsider_cannot_see_jobs(api_as, outsider, operator, demo_cloud):
    job = make_job(demo_cloud, operator)
    assert api_as(outsider).get(f"/api/jobs/{job.pk}/").status_code in (403, 404)


def test_events_page_by_keyset(api_as, viewer, operator, demo_cloud):
    job = make_job(demo_cloud, operator)
    JobEventSink(job, job.steps.get(position=1))(runner_events(1, 25))
    JobEventSink(job, job.steps.get(position=2))(runner_events(1, 5))
    api = api_as(viewer)
    first = api.get(f"/api/jobs/{job.pk}/events/", {"limit": 20}).json()
    assert len(first["events"]) == 20 and first["next_after"] == first["events"][-1]["seq"]
    rest = api.get(f"/api/jobs/{job.pk}/events/", {"after": first["next_after"], "limit": 20}).json()
    assert len(rest["events"]) == 10 and rest["next_after"] is None
    assert [e["counter"] for e in rest["events"]] == [21, 22, 23, 24, 25, 1, 2, 3, 4, 5]
    assert api.get(f"/api/jobs/{job.pk}/events/", {"after": "x"}).status_code == 400


def test_job_list_filters_and_bounded_queries(
    api_as, viewer, operator, demo_cloud, django_assert_max_num_queries
):
    for _ in range(30):
        make_job(demo_cloud, operator, steps=1)
    with django_assert_max_num_queries(8):
        body = (
            api_as(viewer)
            .get("/api/jobs/", {"cloud": "demo", "state": "running", "kind": "prechecks"})
            .json()
        )
    assert len(body["results"]) == 30


def test_log_download_is_plain_text_without_ansi(client_as, viewer, operator, demo_cloud):
    job = make_job(demo_cloud, operator)
    JobEventSink(job, job.steps.get(position=1))(runner_events(1, 3, stdout="\x1b[0;32mok: [ctl01]\x1b[0m"))
    response = client_as(viewer).get(f"/jobs/{job.pk}/log.txt")
    assert response["Content-Type"].startswith("text/plain")
    assert b"".join(response.streaming_content).decode() == "ok: [ctl01]\n" * 3


def test_job_page_shows_steps_and_cancel_for_operators(client_as, operator, demo_cloud):
    job = make_job(demo_cloud, operator)
    page = client_as(operator).get(f"/jobs/{job.pk}/").content.decode()
    assert "step 1" in page and "Cancel job" in page and f"/ws/jobs/{job.pk}/" in page


def test_job_page_brings_the_first_screen_of_the_log(client_as, viewer, demo_cloud):
    job = make_job(demo_cloud)
    step = job.steps.get(position=1)
    JobEventSink(job, step)(runner_events(1, 300, stdout="\x1b[0;32mok: [ctl01]\x1b[0m </script><b>x</b>"))
    page = client_as(viewer).get(f"/jobs/{job.pk}/").content.decode()
    lines = page.split('<pre id="log-lines">')[1].split("</pre>")[0]
    assert lines.count('<span class="line"') == 60  # drawn before any script runs, colours stripped
    assert "ok: [ctl01] &lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</span>" in lines
    initial = page.split('<script id="log-initial" type="application/json">')[1].split("</script>")[0]
    events = json.loads(initial)  # json_script escapes "<", so the stdout cannot end the script early
    assert [e["counter"] for e in events] == list(range(1, 201))  # the socket replays from after 200
    assert events[0]["stdout"].startswith("\x1b[0;32mok")


def test_launch_form_refuses_unconfirmed_mutation(client_as, operator, demo_cloud, no_worker):
    page = client_as(operator).post(
        "/clouds/demo/jobs/new/", {"kind": "deploy", "release": "2025.1", "priority": 0}
    )
    assert "tick the box to confirm" in page.content.decode()
    assert not Job.objects.exists()
