"""The launch form: only the chosen kind's fields, from the table of kinds, and the plan it would run."""

from __future__ import annotations

import re

import pytest

from apps.jobs.models import Job
from runner.planner import VALIDATION_DEFAULTS

pytestmark = pytest.mark.django_db
URL = "/clouds/demo/jobs/new/"
# Every upgrade kind opens with the validations and takes their thresholds.
THRESHOLDS = tuple(VALIDATION_DEFAULTS)


def fields(page: str) -> set[str]:
    return set(re.findall(r'<(?:input|select)[^>]* name="([a-z_]+)"', page)) - {"csrfmiddlewaretoken"}


def test_each_kind_shows_only_its_own_fields(client_as, operator, demo_cloud):
    client = client_as(operator)
    upgrade = client.get(URL, {"kind": "upgrade"}).content.decode()
    assert fields(upgrade) == {
        "kind",
        "target_release",
        "acknowledge_release_status",
        *THRESHOLDS,
        "limit",
        "priority",
        "confirm",
    }
    rollout = client.get(URL, {"kind": "cell-rollout"}).content.decode()
    assert fields(rollout) == {
        "kind",
        "target_release",
        "canary",
        "acknowledge_release_status",
        *THRESHOLDS,
        "limit",
        "priority",
        "confirm",
    }
    assert '<option value="cell2">cell2</option>' in rollout  # the canary is one of the cloud's cells
    prechecks = client.get(URL, {"kind": "prechecks"}).content.decode()
    assert fields(prechecks) == {"kind", "release", "limit", "priority"}  # read-only: nothing to confirm
    ffu = client.get(URL, {"kind": "ffu"}).content.decode()
    assert "pause_between_hops" in fields(ffu) and 'type="checkbox" name="pause_between_hops"' in ffu


def test_the_preview_shows_steps_commands_and_hash_or_names_the_missing_field(
    client_as, operator, demo_cloud
):
    client = client_as(operator)
    refused = client.get(URL, {"kind": "upgrade"}).content.decode()
    assert 'id="plan-refusal"' in refused and "<strong>target_release</strong>" in refused
    page = client.get(URL, {"kind": "upgrade", "target_release": "2025.2"}).content.decode()
    assert 'id="plan-hash"' in page and "kolla-ansible upgrade" in page and "2025.1 → 2025.2" in page
    assert "gate: waits for a person" not in page
    paused = client.get(
        URL, {"kind": "ffu", "target_release": "2026.2", "pause_between_hops": "on"}
    ).content.decode()
    assert paused.count("gate: waits for a person") == 1
    assert not Job.objects.exists()


def test_a_refused_submit_draws_the_submitted_kinds_fields_with_the_reason(
    client_as, operator, demo_cloud, no_worker
):
    page = client_as(operator).post(URL, {"kind": "cell-rollout", "target_release": "2025.2"})
    html = page.content.decode()
    assert page.status_code == 200 and "canary" in fields(html) and "confirm" in html
    assert "confirm that you mean it" in html and not Job.objects.exists()


def test_a_submit_launches_with_the_chosen_kinds_params(client_as, operator, demo_cloud, no_worker):
    response = client_as(operator).post(
        URL,
        {"kind": "cell-rollout", "target_release": "2025.2", "canary": "cell2", "confirm": "on"},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    # The validations' thresholds the form left alone are their defaults.
    assert job.params == {"target_release": "2025.2", "canary": "cell2", **VALIDATION_DEFAULTS}
    assert job.steps.get(gate=True).name == "Upgrade canary cell cell2"
