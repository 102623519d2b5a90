"""Launching with hostile input: a 400 that names the field, and nothing created or queued."""

from __future__ import annotations

import json

import pytest

from apps.audit.models import AuditEntry
from apps.jobs.models import Job, Step

pytestmark = pytest.mark.django_db

PIPE = "{{ lookup('pipe','id >/tmp/x; echo 1') }}"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE = [
    pytest.param(
        {"kind": "prechecks", "params": {"lab_slow_seconds": PIPE}}, "lab_slow_seconds", id="pipe-lookup"
    ),
    pytest.param({"kind": "prechecks", "params": {"release": PIPE}}, "release", id="release-template"),
    pytest.param(
        {"kind": "prechecks", "params": {"release": "{{ database_password | b64encode }}"}},
        "release",
        id="password-template",
    ),
    pytest.param(
        {"kind": "deploy", "params": {"release": "2025.1-aaaaaaaaaaaaa"}}, "release", id="long-release"
    ),
    pytest.param({"kind": "deploy", "params": {"release": "bogus"}}, "release", id="bogus-release"),
    pytest.param(
        {"kind": "restore", "params": {"backup": "../../../etc/passwd"}}, "backup", id="backup-path"
    ),
    pytest.param({"kind": "prechecks", "params": {"surprise": 1}}, "surprise", id="unknown-param"),
    pytest.param({"kind": "prechecks", "surprise": 1}, "surprise", id="unknown-field"),
    pytest.param({"kind": "prechecks", "params": "release=2025.1"}, "params", id="params-not-object"),
    pytest.param({"kind": "../etc", "params": {}}, "kind", id="unknown-kind"),
    pytest.param({"kind": "backup", "params": {"label": "a\x00b"}}, "label", id="nul-in-label"),
    pytest.param(
        {"kind": "deploy", "params": {"lab_fail": {"ctl1": [PIPE]}}}, "lab_fail", id="lab-fail-template"
    ),
    pytest.param({"kind": "prechecks", "priority": 10**9}, "priority", id="huge-priority"),
]


@pytest.mark.parametrize(("body", "field"), HOSTILE)
def test_hostile_launch_is_refused_by_name_and_creates_nothing(
    api_as, operator, demo_cloud, no_worker, body, field
):
    before = AuditEntry.objects.count()
    response = api_as(operator).post("/api/jobs/", {"cloud": "demo", "confirm": True, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Job.objects.exists() and not Step.objects.exists() and no_worker == []
    assert AuditEntry.objects.count() == before


def test_a_limit_of_1800_characters_of_valid_names_is_a_400_naming_limit(
    api_as, operator, demo_cloud, no_worker
):
    hosts = list(demo_cloud.hosts.values_list("name", flat=True))
    limit = ",".join(hosts * 200)[:1800].rstrip(",")
    response = api_as(operator).post(
        "/api/jobs/", {"cloud": "demo", "kind": "prechecks", "limit": limit}, format="json"
    )
    assert response.status_code == 400 and "limit" in response.json()
    assert not Job.objects.exists()


def test_params_nested_100000_deep_are_a_400_not_a_500(api_as, operator, demo_cloud, no_worker):
    body = '{"cloud": "demo", "kind": "prechecks", "params": {"x": ' + nested(100_000) + "}}"
    response = api_as(operator).post("/api/jobs/", body, content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    assert not Job.objects.exists()


def test_a_body_that_is_not_utf8_json_is_a_400(api_as, operator, demo_cloud, no_worker):
    response = api_as(operator).post("/api/jobs/", b'{"cloud": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert not Job.objects.exists()


def test_launch_stores_the_cleaned_values_and_the_persons_text_as_user_vars(
    api_as, operator, demo_cloud, no_worker
):
    response = api_as(operator).post(
        "/api/jobs/",
        {"cloud": "demo", "kind": "backup", "params": {"label": "before-maint"}, "confirm": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    job = Job.objects.get()
    assert job.params == {"backup_type": "full", "label": "before-maint"}
    steps = list(job.steps.all())
    assert [s.action for s in steps] == ["mariadb-backup", "ferry-backup-fetch"]
    assert all(s.user_vars == {"ferry_backup_label": "before-maint"} for s in steps)
    assert not any("before-maint" in json.dumps(s.extra_vars) for s in steps)
