"""Backups are records Ferry verified; a restore brings back exactly the chosen one (lab, real Ansible)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.audit.models import AuditEntry
from apps.backups.models import Backup, BackupState
from apps.jobs import services
from apps.jobs.models import Event, JobState
from apps.jobs.tests.test_execution import run
from runner import lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ansible]


@pytest.fixture
def store(settings, tmp_path):
    settings.FERRY_BACKUP_DIR = tmp_path / "backups"
    return settings.FERRY_BACKUP_DIR


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


def test_restore_brings_back_the_chosen_backup_not_the_newest(
    lab_cloud, operator, no_worker, store, settings
):
    assert (
        run(
            services.launch_job(operator, lab_cloud, "deploy", params={"release": "2025.1"}, confirmed=True)
        ).state
        == "succeeded"
    )

    a = backup(operator, lab_cloud, "before-change")
    assert a.state == BackupState.VERIFIED and a.release == "2025.1" and a.node == "ctl01"
    assert a.sha256 == lab.sha256_file(lab_data(settings)) and a.size > 0
    copy = store / "small" / f"{a.pk:06d}-{a.name}" / "data"
    assert a.store_path and copy.is_file() and lab.sha256_file(copy) == a.sha256
    content_a = json.loads(lab_data(settings).read_text())["databases"]

    data = json.loads(lab_data(settings).read_text())
    data["databases"]["keystone"]["rows"].append({"id": 999, "name": "written-after-a"})
    lab_data(settings).write_text(json.dumps(data))
    b = backup(operator, lab_cloud, "after-change")
    assert b.state == BackupState.VERIFIED and b.sha256 != a.sha256

    restore = run(
        services.launch_job(operator, lab_cloud, "restore", params={"backup": a.pk}, confirmed=True)
    )
    assert restore.state == JobState.SUCCEEDED, restore.result
    assert any(f"backup #{a.pk}" in name for name in restore.steps.values_list("name", flat=True))
    assert json.loads(lab_data(settings).read_text())["databases"] == content_a
    assert AuditEntry.objects.filter(action="backup.recorded").count() == 2


def test_an_incremental_restores_its_full_parent_then_itself(lab_cloud, operator, no_worker, store, settings):
    assert (
        run(
            services.launch_job(operator, lab_cloud, "deploy", params={"release": "2025.1"}, confirmed=True)
        ).state
        == "succeeded"
    )
    a = backup(operator, lab_cloud, "base")
    content_a = json.loads(lab_data(settings).read_text())["databases"]
    data = json.loads(lab_data(settings).read_text())
    data["databases"]["keystone"]["rows"].append({"id": 1000, "name": "in-the-increment"})
    lab_data(settings).write_text(json.dumps(data))
    b = backup(operator, lab_cloud, "incr", kind="incremental")
    assert b.kind == "incremental" and b.parent_id == a.pk
    content_b = json.loads(lab_data(settings).read_text())["databases"]

    restore_a = run(
        services.launch_job(operator, lab_cloud, "restore", params={"backup": a.pk}, confirmed=True)
    )
    assert restore_a.state == JobState.SUCCEEDED, restore_a.result
    assert json.loads(lab_data(settings).read_text())["databases"] == content_a != content_b

    restore_b = run(
        services.launch_job(operator, lab_cloud, "restore", params={"backup": b.pk}, confirmed=True)
    )
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


def test_a_tampered_copy_in_ferrys_store_fails_the_restore_and_leaves_the_database_alone(
    lab_cloud, operator, no_worker, store, settings
):
    assert (
        run(
            services.launch_job(operator, lab_cloud, "deploy", params={"release": "2025.1"}, confirmed=True)
        ).state
        == "succeeded"
    )
    a = backup(operator, lab_cloud, "before-change")
    (Path(a.store_path) / "data").write_text('{"databases": {}}')
    before = lab.sha256_file(lab_data(settings))

    restore = run(
        services.launch_job(operator, lab_cloud, "restore", params={"backup": a.pk}, confirmed=True)
    )
    assert restore.state == JobState.FAILED
    push, *rest = restore.steps.order_by("position")
    assert push.state == "failed" and {s.state for s in rest} == {"skipped"}
    failures = " ".join(
        json.dumps(e.event_data)
        for e in Event.objects.filter(job=restore, step=push, event="runner_on_failed")
    )
    assert f"Ferry's copy of backup #{a.pk}" in failures and "damaged" in failures
    assert lab.sha256_file(lab_data(settings)) == before
