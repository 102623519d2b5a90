"""Backups are records Ferry verified; a restore brings back exactly the chosen one (lab, real Ansible).

The same flow through the API and a separate worker: tests/e2e/test_restore_production.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.audit.models import AuditEntry
from apps.backups.models import Backup, BackupState
from apps.jobs import services
from apps.jobs.models import Event, Job, JobState
from apps.jobs.tests.test_execution import run
from runner import lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ansible]


def lab_data(settings, host: str = "ctl01"):
    return settings.VAR_DIR / "lab" / "small" / host / "volumes" / "mariadb" / "ibdata1"


def backup(operator, cloud, label: str, kind: str = "full") -> Backup:
    job = run(
        services.launch_job(
            operator, cloud, "backup", params={"label": label, "backup_type": kind}, confirmed=True
        )
    )
    assert job.state == JobState.SUCCEEDED, job.result
    return Backup.objects.get(job=job)


def restored(operator, cloud, backup: Backup) -> Job:
    return run(services.launch_job(operator, cloud, "restore", params={"backup": backup.pk}, confirmed=True))


def test_a_restore_brings_back_exactly_the_chosen_backup_and_refuses_a_damaged_copy(
    lab_cloud, operator, no_worker, backup_store, settings
):
    # One deploy and two backups serve the three restores: each costs real Ansible runs.
    deploy = run(
        services.launch_job(operator, lab_cloud, "deploy", params={"release": "2025.1"}, confirmed=True)
    )
    assert deploy.state == JobState.SUCCEEDED, deploy.result

    a = backup(operator, lab_cloud, "base")
    assert a.state == BackupState.VERIFIED and a.release == "2025.1" and a.node == "ctl01"
    assert a.sha256 == lab.sha256_file(lab_data(settings)) and a.size > 0
    copy = backup_store / "small" / f"{a.pk:06d}-{a.name}" / "data"
    assert a.store_path and copy.is_file() and lab.sha256_file(copy) == a.sha256
    content_a = json.loads(lab_data(settings).read_text())["databases"]

    data = json.loads(lab_data(settings).read_text())
    data["databases"]["keystone"]["rows"].append({"id": 1000, "name": "in-the-increment"})
    lab_data(settings).write_text(json.dumps(data))
    b = backup(operator, lab_cloud, "incr", kind="incremental")
    assert b.state == BackupState.VERIFIED and b.kind == "incremental" and b.parent_id == a.pk
    content_b = json.loads(lab_data(settings).read_text())["databases"]
    assert AuditEntry.objects.filter(action="backup.recorded").count() == 2

    # The older backup, not the newest.
    restore_a = restored(operator, lab_cloud, a)
    assert restore_a.state == JobState.SUCCEEDED, restore_a.result
    assert any(f"backup #{a.pk}" in name for name in restore_a.steps.values_list("name", flat=True))
    assert json.loads(lab_data(settings).read_text())["databases"] == content_a != content_b

    # An increment: its full parent, then itself.
    restore_b = restored(operator, lab_cloud, b)
    assert restore_b.state == JobState.SUCCEEDED, restore_b.result
    assert json.loads(lab_data(settings).read_text())["databases"] == content_b
    steps = list(restore_b.steps.order_by("position"))
    assert (
        steps[0].name
        == f"Put backup #{b.pk} (incremental on #{a.pk}, {b.taken_at:%Y-%m-%d %H:%M} UTC) on ctl01"
    )
    applied = [
        e.event_data["res"]["applied"]
        for e in Event.objects.filter(
            job=restore_b, step=steps[2], event="runner_item_on_ok", task="Applying each increment in order"
        )
    ]
    assert applied == [b.name]

    # A copy damaged in Ferry's store: the restore fails before it touches the database.
    (Path(a.store_path) / "data").write_text('{"databases": {}}')
    before = lab.sha256_file(lab_data(settings))
    damaged = restored(operator, lab_cloud, a)
    assert damaged.state == JobState.FAILED
    push, *rest = damaged.steps.order_by("position")
    assert push.state == "failed" and {s.state for s in rest} == {"skipped"}
    failures = " ".join(
        json.dumps(e.event_data)
        for e in Event.objects.filter(job=damaged, step=push, event="runner_on_failed")
    )
    assert f"Ferry's copy of backup #{a.pk}" in failures and "damaged" in failures
    assert lab.sha256_file(lab_data(settings)) == before
