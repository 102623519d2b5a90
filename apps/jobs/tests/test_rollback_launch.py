"""Rollback is offered only from a pre-upgrade backup, and says what it loses before it runs."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.backups import services as backup_services
from apps.backups.models import Backup
from apps.catalog.models import Release
from apps.clouds.models import Cloud
from apps.jobs.models import Job, JobState, Step
from apps.jobs.tests.factories import make_job

pytestmark = pytest.mark.django_db
TAKEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def taken_by(cloud: Cloud, kind: str, name: str) -> Backup:
    """A verified backup that a ``kind`` job of ``cloud`` took at TAKEN, on the cloud's release."""
    job = make_job(cloud)
    Job.objects.filter(pk=job.pk).update(kind=kind)
    job.refresh_from_db()
    step = job.steps.first()
    incoming = backup_services.incoming_dir(cloud, job.pk, step.ordinal)
    incoming.mkdir(parents=True)
    (incoming / "data").write_bytes(name.encode())
    meta = {
        "name": name,
        "type": "full",
        "sha256": hashlib.sha256(name.encode()).hexdigest(),
        "created": TAKEN.isoformat(),
        "node": "ctl01",
    }
    (incoming / "meta.json").write_text(json.dumps(meta))
    return backup_services.record_fetched_backup(None, cloud, job=job, step=step, label=name)


@pytest.fixture
def backups(demo_cloud, backup_store):
    """On 2025.1: one backup an upgrade took, one a backup job took; then the cloud moved to
    2025.2, where an upgrade took another."""
    before = taken_by(demo_cloud, "upgrade", "before-2025.2")
    nightly = taken_by(demo_cloud, "backup", "nightly")
    Cloud.objects.filter(pk=demo_cloud.pk).update(release=Release.objects.get(series="2025.2"))
    demo_cloud.refresh_from_db()
    newer = taken_by(demo_cloud, "upgrade", "before-2026.1")
    return before, nightly, newer


@pytest.mark.parametrize(
    ("which", "why"),
    [(1, "taken by a backup job"), (2, "and the cloud runs 2025.2"), (None, "there is no backup #")],
)
def test_rollback_from_anything_but_a_pre_upgrade_backup_is_a_400_naming_backup(
    api_as, operator, backups, no_worker, which, why
):
    backup_id = backups[which].pk if which is not None else 9999
    response = api_as(operator).post(
        "/api/jobs/",
        {"cloud": "demo", "kind": "rollback", "params": {"backup": backup_id}, "confirm": True},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert why in " ".join(response.json()["backup"])
    assert not Job.objects.filter(kind="rollback").exists()


def test_the_launch_form_offers_rollback_only_pre_upgrade_backups(client_as, operator, backups):
    before, nightly, newer = backups
    page = client_as(operator).get("/clouds/demo/jobs/new/?kind=rollback").content.decode()
    assert f'value="{before.pk}"' in page
    assert f'value="{nightly.pk}"' not in page and f'value="{newer.pk}"' not in page
    restore_page = client_as(operator).get("/clouds/demo/jobs/new/?kind=restore").content.decode()
    assert all(f'value="{b.pk}"' in restore_page for b in backups)


def test_the_preview_says_what_is_lost_everywhere_and_the_job_keeps_the_warning(
    api_as, client_as, operator, backups, no_worker, monkeypatch
):
    before = backups[0]
    monkeypatch.setattr(timezone, "now", lambda: TAKEN + timedelta(hours=3, minutes=12))
    lost = "since 2026-12-01 10:00 UTC (3 h 12 min)"

    api = api_as(operator).get(f"/api/clouds/demo/plan/?kind=rollback&backup={before.pk}")
    assert api.status_code == 200, api.content
    assert lost in api.json()["warnings"][0]
    assert "the data plane keeps running" in api.json()["steps"][0]["name"]

    out = StringIO()
    call_command(
        "plan", "--cloud", "demo", "--operation", "rollback", "--param", f"backup={before.pk}", stdout=out
    )
    assert f"warning: Loses every change the databases took {lost}" in out.getvalue()

    client = client_as(operator)
    page = client.post("/clouds/demo/jobs/new/", {"kind": "rollback", "backup": before.pk, "priority": 0})
    assert page.status_code == 200 and lost in page.content.decode()
    assert "Reset RabbitMQ&#x27;s state" in page.content.decode()
    assert not Job.objects.filter(kind="rollback").exists()

    response = api_as(operator).post(
        "/api/jobs/",
        {"cloud": "demo", "kind": "rollback", "params": {"backup": before.pk}, "confirm": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert lost in response.json()["warning"]
    job = Job.objects.get(kind="rollback")
    assert lost in job.warning and "nova_libvirt_tag" in job.warning
    assert lost in client.get(f"/jobs/{job.pk}/").content.decode()


def launch(*args: str) -> str:
    out = StringIO()
    call_command("launch", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("required", "state", "said"),
    [(0, JobState.QUEUED, "queued"), (1, JobState.AWAITING_APPROVAL, "awaits approval")],
)
def test_the_launch_command_rolls_back_to_a_pre_upgrade_backup_naming_it_in_the_steps(
    operator, backups, no_worker, settings, required, state, said
):
    settings.FERRY_APPROVALS_REQUIRED = required
    before = backups[0]
    jobs = Job.objects.count()
    output = launch(
        "demo",
        "rollback",
        "--param",
        f"backup={before.pk}",
        "--user",
        operator.username,
        "--reason",
        "the upgrade broke keystone",
        "--yes",
    )
    job = Job.objects.get(kind="rollback")
    assert Job.objects.count() == jobs + 1
    assert (job.state, job.requested_by, job.params) == (state, operator, {"backup": before.pk})
    assert f"job {job.pk} {said}: rollback on demo" in output
    titled = f"backup #{before.pk} (full, 2026-12-01 10:00 UTC)"
    names = list(job.steps.values_list("name", flat=True))
    assert f"Put {titled} on ctl01" in names and f"Restore {titled}: prepare and copy back" in names
    assert names[-2].startswith("Redeploy the control plane on 2025.1")
    assert AuditEntry.objects.filter(action="job.launch", object_id=str(job.pk), actor=operator).exists()


@pytest.mark.parametrize(
    ("which", "why"),
    [(1, "taken by a backup job"), (2, "and the cloud runs 2025.2"), (None, "there is no backup #")],
)
def test_the_launch_command_refuses_a_backup_that_is_not_pre_upgrade_and_creates_nothing(
    operator, backups, no_worker, which, why
):
    backup_id = backups[which].pk if which is not None else 9999
    jobs, steps = Job.objects.count(), Step.objects.count()
    with pytest.raises(CommandError) as refused:
        launch("demo", "rollback", "--param", f"backup={backup_id}", "--user", operator.username, "--yes")
    assert refused.value.returncode == 2
    assert str(refused.value).startswith("backup: ") and why in str(refused.value)
    assert (Job.objects.count(), Step.objects.count()) == (jobs, steps)
    assert not Job.objects.filter(kind="rollback").exists()
    assert not AuditEntry.objects.filter(action="job.launch").exists() and not no_worker
