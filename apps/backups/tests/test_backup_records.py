"""Backup records: verified only on a matching checksum of Ferry's copy, pruned by chains, read-only API."""

from __future__ import annotations

import hashlib
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.audit.models import AuditEntry
from apps.backups import services
from apps.backups.models import Backup, BackupState
from apps.jobs.tests.factories import make_job

pytestmark = pytest.mark.django_db


def fetched(cloud, job, step, *, data=b"rows", recorded=None, kind="full", minutes=0, config=False):
    incoming = services.incoming_dir(cloud, job.pk, step.ordinal)
    incoming.mkdir(parents=True)
    (incoming / "data").write_bytes(data)
    taken = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    meta = {
        "name": f"mysqlbackup-{job.pk}-{step.ordinal}-{minutes}",
        "type": kind,
        "sha256": recorded or hashlib.sha256(data).hexdigest(),
        "created": taken.isoformat(),
        "node": "ctl01",
    }
    (incoming / "meta.json").write_text(json.dumps(meta))
    return services.record_fetched_backup(
        None, cloud, job=job, step=step, label="nightly", includes_config=config
    )


@pytest.fixture
def job(demo_cloud, operator):
    return make_job(demo_cloud, operator)


def test_a_copy_with_the_nodes_checksum_is_verified_and_kept(demo_cloud, job, backup_store):
    backup = fetched(demo_cloud, job, job.steps.first())
    assert backup.state == BackupState.VERIFIED and backup.label == "nightly" and backup.release == "2025.1"
    assert (backup_store / "demo" / f"{backup.pk:06d}-{backup.name}" / "data").read_bytes() == b"rows"
    assert not services.incoming_dir(demo_cloud, job.pk, job.steps.first().ordinal).exists()
    assert AuditEntry.objects.filter(action="backup.recorded", object_id=str(backup.pk)).exists()


def test_a_backup_before_an_upgrade_archives_the_configuration_without_plain_passwords(
    demo_cloud, job, backup_store
):
    backup = fetched(demo_cloud, job, job.steps.first(), config=True)
    archive = Path(backup.store_path) / services.CONFIG_ARCHIVE
    assert backup.includes_config and backup.config_sha256 == services.sha256_of(archive)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"config/globals.yml", "config/passwords.yml.encrypted", "config/inventory"} <= names
        assert tar.extractfile("config/globals.yml").read().decode() == demo_cloud.globals_yml
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert b"Sup3r-Secret-DB" not in everything


def test_fetching_a_backup_ferry_already_holds_is_an_error_not_a_second_record(demo_cloud, job, backup_store):
    step = job.steps.first()
    first = fetched(demo_cloud, job, step)
    with pytest.raises(services.StaleBackupError, match=f"is backup #{first.pk} already"):
        fetched(demo_cloud, job, step)
    assert Backup.objects.count() == 1


def test_a_copy_that_does_not_match_is_failed_with_the_reason(demo_cloud, job, backup_store):
    backup = fetched(demo_cloud, job, job.steps.first(), recorded="0" * 64)
    assert backup.state == BackupState.FAILED and "the node recorded 000" in backup.problem


def test_a_step_that_left_no_copy_gives_a_missing_backup(demo_cloud, job, backup_store):
    step = job.steps.first()
    backup = services.record_fetched_backup(None, demo_cloud, job=job, step=step)
    assert backup.state == BackupState.MISSING


def test_an_incremental_without_a_verified_full_is_not_verified(demo_cloud, job, backup_store):
    backup = fetched(demo_cloud, job, job.steps.first(), kind="incremental")
    assert backup.state == BackupState.FAILED and "full parent" in backup.problem


def test_pruning_keeps_the_newest_chains_and_the_newest_verified_full(
    demo_cloud, job, backup_store, settings
):
    settings.FERRY_BACKUP_KEEP_CHAINS = 2
    step = job.steps.first()
    oldest = fetched(demo_cloud, job, step, minutes=0)
    step.ordinal += 10
    good = fetched(demo_cloud, job, step, minutes=1)
    step.ordinal += 10
    increment = fetched(demo_cloud, job, step, minutes=2, kind="incremental")
    for minute in (3, 4):
        step.ordinal += 10
        fetched(demo_cloud, job, step, minutes=minute, recorded="f" * 64)
    kept = set(Backup.objects.values_list("pk", flat=True))
    # The two newest fulls failed; the newest verified full and its increment stay; the oldest goes.
    assert oldest.pk not in kept and {good.pk, increment.pk} <= kept and len(kept) == 4
    assert increment.parent_id == good.pk
    assert list(AuditEntry.objects.filter(action="backup.pruned").values_list("object_id", flat=True)) == [
        str(oldest.pk)
    ]
    assert not any(backup_store.glob(f"demo/{oldest.pk:06d}-*"))


def test_backups_api_lists_newest_first_filters_by_cloud_and_is_read_only(
    api_as, viewer, demo_cloud, job, backup_store
):
    older = fetched(demo_cloud, job, job.steps.first(), minutes=1)
    step = job.steps.first()
    step.ordinal += 10
    newer = fetched(demo_cloud, job, step, minutes=2)
    api = api_as(viewer)
    body = api.get("/api/backups/?cloud=demo").json()
    assert [b["id"] for b in body["results"]] == [newer.pk, older.pk]
    assert api.get("/api/backups/?cloud=other").json()["results"] == []
    assert api.get(f"/api/backups/{older.pk}/").json()["sha256"] == older.sha256
    assert api.delete(f"/api/backups/{older.pk}/").status_code == 405


def test_outsiders_see_no_backup(api_as, outsider, demo_cloud, job, backup_store):
    backup = fetched(demo_cloud, job, job.steps.first())
    api = api_as(outsider)
    assert api.get("/api/backups/").json()["results"] == []
    assert api.get(f"/api/backups/{backup.pk}/").status_code == 404


def test_the_cloud_page_lists_its_backups(client_as, viewer, demo_cloud, job, backup_store):
    backup = fetched(demo_cloud, job, job.steps.first())
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert "Database backups" in page and backup.name not in page and "nightly" in page


def test_a_backup_is_refused_when_globals_leave_mariabackup_off(api_as, operator, demo_cloud, no_worker):
    from apps.clouds import services as cloud_services
    from apps.jobs.models import Job

    cloud_services.update_cloud(None, demo_cloud, globals_yml='kolla_base_distro: "rocky"\n')
    response = api_as(operator).post(
        "/api/jobs/", {"cloud": "demo", "kind": "backup", "confirm": True}, format="json"
    )
    assert response.status_code == 400 and "enable_mariabackup" in response.json()
    assert not Job.objects.exists()


def test_the_launch_form_offers_only_verified_backups_and_restores_by_id(
    client_as, operator, demo_cloud, job, backup_store, no_worker
):
    from apps.jobs.models import Job

    good = fetched(demo_cloud, job, job.steps.first(), minutes=1)
    step = job.steps.first()
    step.ordinal += 10
    bad = fetched(demo_cloud, job, step, minutes=2, recorded="0" * 64)
    client = client_as(operator)
    page = client.get("/clouds/demo/jobs/new/?kind=restore").content.decode()
    assert f'value="{good.pk}"' in page and f'value="{bad.pk}"' not in page
    response = client.post(
        "/clouds/demo/jobs/new/", {"kind": "restore", "backup": good.pk, "priority": 0, "confirm": "on"}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    restore = Job.objects.get(kind="restore")
    assert restore.params == {"backup": good.pk}
    assert f"backup #{good.pk}" in restore.steps.get(action="ferry-mariadb-restore").name
