"""`manage.py launch`: the same launch service as the pages and the API, as a named user; --yes is the
confirmation the service asks of a kind that changes the cloud."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEntry
from apps.jobs.models import Job, JobState
from runner.planner import VALIDATION_DEFAULTS

pytestmark = pytest.mark.django_db


def launch(*args: str) -> str:
    out = StringIO()
    call_command("launch", *args, stdout=out)
    return out.getvalue()


def test_with_yes_it_launches_as_the_named_user_through_the_launch_service(operator, demo_cloud, no_worker):
    output = launch("demo", "upgrade", "--to", "2025.2", "--user", operator.username, "--yes")
    job = Job.objects.get()
    assert (job.kind, job.state, job.requested_by, job.cloud) == (
        "upgrade",
        JobState.QUEUED,
        operator,
        demo_cloud,
    )
    # The validations' thresholds, not given, are their defaults.
    assert job.params == {"target_release": "2025.2", **VALIDATION_DEFAULTS}
    assert f"job {job.pk} queued" in output
    assert AuditEntry.objects.filter(action="job.launch", actor=operator).exists()


def test_without_yes_it_shows_the_plan_and_launches_nothing(operator, demo_cloud, no_worker):
    out = StringIO()
    with pytest.raises(CommandError, match="confirm: nothing launched; add --yes"):
        call_command("launch", "demo", "upgrade", "--to", "2025.2", "--user", operator.username, stdout=out)
    assert "Upgrade to 2025.2" in out.getvalue() and "kolla-ansible upgrade" in out.getvalue()
    assert not Job.objects.exists() and not no_worker


def test_a_read_only_kind_launches_without_yes(operator, demo_cloud, no_worker):
    output = launch("demo", "check", "--user", operator.username)
    job = Job.objects.get()
    assert (job.kind, job.mutating, job.state, job.requested_by) == (
        "check",
        False,
        JobState.QUEUED,
        operator,
    )
    assert output.strip() == f"job {job.pk} queued: check on demo as {operator.username}, 1 steps"


def test_without_yes_a_request_that_cannot_be_planned_names_its_field_not_the_confirmation(
    operator, demo_cloud, no_worker
):
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("launch", "demo", "upgrade", "--to", "2024.1", "--user", operator.username, stdout=out)
    assert str(refused.value).startswith("target_release:") and out.getvalue() == ""
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["demo", "restore", "--param", "backup=999"], "backup:"),
        (["demo", "restore"], "backup:"),
        (["demo", "upgrade", "--param", "surprise=1"], "surprise:"),
        (["demo", "explode"], "kind:"),
        (["nowhere", "check"], "cloud:"),
        (["demo", "check", "--param", "novalue"], "param:"),
        (["demo", "check", "--param", "lab_fail={oops"], "lab_fail:"),
    ],
)
def test_refusals_name_the_field_and_create_nothing(operator, demo_cloud, no_worker, args, field):
    with pytest.raises(CommandError) as refused:
        launch(*args, "--user", operator.username, "--yes")
    assert str(refused.value).startswith(field)
    assert not Job.objects.exists()


def test_the_user_must_exist_and_be_allowed_to_operate(viewer, demo_cloud, no_worker):
    with pytest.raises(CommandError, match="user: no active user named 'nobody'"):
        launch("demo", "check", "--user", "nobody", "--yes")
    with pytest.raises(CommandError, match=f"user: {viewer.username} may not launch jobs on demo"):
        launch("demo", "check", "--user", viewer.username, "--yes")
    assert not Job.objects.exists()
