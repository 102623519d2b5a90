"""The configuration archived with a backup holds the cloud's files, and restores only when intact."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.backups import services
from apps.backups.models import Backup, BackupState
from apps.clouds import files
from apps.clouds.models import Host
from apps.clouds.services import cloud_passwords, update_cloud

pytestmark = pytest.mark.django_db

KEYRING = b"[client.nova]\n\tkey = AQBxArchivedKeyring==\n"
NOVA_CONF = b"[DEFAULT]\ndebug = True\n"
CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def with_files(demo_cloud, admin_user):
    files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    files.put_file(admin_user, demo_cloud, "certificates", "ca/root.crt", CERT)
    files.put_file(admin_user, demo_cloud, "globals.d", "50-tls.yml", b"kolla_enable_tls_external: 'yes'\n")
    return demo_cloud


def backup_of(cloud, store: Path, name="b1") -> Backup:
    """A verified backup whose configuration archive is what ``archive_config`` writes now."""
    where = store / cloud.slug / name
    where.mkdir(parents=True)
    digest = services.archive_config(cloud, where / services.CONFIG_ARCHIVE)
    return Backup.objects.create(
        cloud=cloud,
        kind="full",
        taken_at=datetime(2026, 12, 1, tzinfo=UTC),
        node="ctl01",
        name=name,
        store_path=str(where),
        includes_config=True,
        config_sha256=digest,
        state=BackupState.VERIFIED,
    )


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}


def test_the_archive_holds_globals_d_config_and_certificates_secret_ones_encrypted(with_files, tmp_path):
    digest = services.archive_config(with_files, tmp_path / "config.tar.gz")
    held = members(tmp_path / "config.tar.gz")
    assert held["config/config/nova.conf"] == NOVA_CONF
    assert held["config/certificates/ca/root.crt"] == CERT
    assert held["config/globals.d/50-tls.yml"] == b"kolla_enable_tls_external: 'yes'\n"
    assert "config/config/nova/ceph.client.nova.keyring" not in held
    token = held["config/encrypted/config/nova/ceph.client.nova.keyring"]
    assert b"AQBx" not in b"".join(held.values()) and b"Sup3r-Secret-DB" not in b"".join(held.values())
    manifest = {e["path"]: e for e in json.loads(held["config/files.json"])}
    assert manifest["nova/ceph.client.nova.keyring"]["secret"] is True
    assert manifest["nova/ceph.client.nova.keyring"]["sha256"] == hashlib.sha256(KEYRING).hexdigest()
    assert token  # Fernet token, decrypted only on restore
    assert digest == services.sha256_of(tmp_path / "config.tar.gz")


def test_the_archive_checksum_covers_the_files(with_files, admin_user, tmp_path):
    first = services.archive_config(with_files, tmp_path / "a.tar.gz")
    files.put_file(admin_user, with_files, "config", "nova.conf", b"[DEFAULT]\ndebug = False\n")
    second = services.archive_config(with_files, tmp_path / "b.tar.gz")
    assert first != second


def test_restore_config_brings_back_globals_passwords_and_files(with_files, admin_user, settings, tmp_path):
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    globals_then = with_files.globals_yml
    update_cloud(
        admin_user, with_files, globals_yml="kolla_base_distro: ubuntu\n", passwords_yml="x: Other-Pw\n"
    )
    keyring = with_files.files.get(path="nova/ceph.client.nova.keyring")
    files.delete_file(admin_user, with_files, keyring)
    files.put_file(admin_user, with_files, "config", "nova.conf", b"changed\n")
    files.put_file(admin_user, with_files, "config", "extra.conf", b"new\n")

    result = services.restore_config(admin_user, with_files, backup)

    with_files.refresh_from_db()
    assert with_files.globals_yml == globals_then
    assert cloud_passwords(with_files)["database_password"] == "Sup3r-Secret-DB"
    restored = {f.relative_path: files.file_content(f) for f in with_files.files.all()}
    assert restored["config/nova/ceph.client.nova.keyring"] == KEYRING
    assert restored["config/nova.conf"] == NOVA_CONF and "config/extra.conf" not in restored
    assert with_files.files.get(path="nova/ceph.client.nova.keyring").secret
    assert result.globals_yml and result.passwords_yml and result.inventory_differs == []
    assert [c["path"] for c in result.files["removed"]] == ["config/extra.conf"]
    entry = AuditEntry.objects.get(action="cloud.restore_config")
    assert entry.detail["backup"] == backup.pk and "Sup3r-Secret-DB" not in json.dumps(entry.detail)
    assert "AQBx" not in json.dumps(entry.detail)


def test_an_inventory_that_changed_since_is_reported_not_restored(with_files, admin_user, settings, tmp_path):
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    Host.objects.filter(cloud=with_files, name="ctl01").update(address="10.9.9.9")
    result = services.restore_config(admin_user, with_files, backup)
    assert result.inventory_differs == ["inventory/inventory"]
    assert Host.objects.get(cloud=with_files, name="ctl01").address == "10.9.9.9"
    assert AuditEntry.objects.get(action="cloud.restore_config").detail["inventory_differs"]


def _tamper(path: Path) -> None:
    """Rewrite the archive with one byte of a file changed: still a valid tar.gz."""
    held = members(path)
    held["config/config/nova.conf"] = b"[DEFAULT]\ndebug = False\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in held.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())


def test_a_tampered_archive_is_refused_naming_backup_and_nothing_changes(
    with_files, admin_user, settings, tmp_path
):
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    files.put_file(admin_user, with_files, "config", "nova.conf", b"current\n")
    _tamper(Path(backup.store_path) / services.CONFIG_ARCHIVE)
    with pytest.raises(ValidationError) as caught:
        services.restore_config(admin_user, with_files, backup)
    assert "was changed" in " ".join(caught.value.message_dict["backup"])
    assert files.file_content(with_files.files.get(path="nova.conf")) == b"current\n"
    assert not AuditEntry.objects.filter(action="cloud.restore_config").exists()


def test_a_file_that_does_not_match_its_manifest_is_refused(with_files, admin_user, settings, tmp_path):
    """Even with the archive's checksum recorded anew, a member that is not what the manifest says
    is refused."""
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    archive = Path(backup.store_path) / services.CONFIG_ARCHIVE
    _tamper(archive)
    Backup.objects.filter(pk=backup.pk).update(config_sha256=services.sha256_of(archive))
    backup.refresh_from_db()
    with pytest.raises(ValidationError, match=r"config/nova\.conf does not match"):
        services.restore_config(admin_user, with_files, backup)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"includes_config": False}, "holds no configuration archive"),
        ({"config_sha256": ""}, "holds no configuration archive"),
        ({"state": BackupState.FAILED}, "is failed, not verified"),
    ],
)
def test_backups_without_a_usable_archive_are_refused(
    with_files, admin_user, settings, tmp_path, change, words
):
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    Backup.objects.filter(pk=backup.pk).update(**change)
    backup.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        services.restore_config(admin_user, with_files, backup)
    assert words in " ".join(caught.value.message_dict["backup"])


def test_another_clouds_backup_or_a_missing_archive_is_refused(with_files, admin_user, settings, tmp_path):
    from apps.clouds.services import create_cloud

    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(with_files, tmp_path)
    other = create_cloud(admin_user, slug="other")
    with pytest.raises(ValidationError, match="belongs to another cloud"):
        services.restore_config(admin_user, other, backup)
    (Path(backup.store_path) / services.CONFIG_ARCHIVE).unlink()
    with pytest.raises(ValidationError, match="missing"):
        services.restore_config(admin_user, with_files, backup)


def test_an_archive_from_before_files_were_kept_restores_no_files(demo_cloud, admin_user, settings, tmp_path):
    """An older archive has no files.json: it held no files, so the cloud ends with none."""
    settings.FERRY_BACKUP_DIR = tmp_path
    backup = backup_of(demo_cloud, tmp_path)
    archive = Path(backup.store_path) / services.CONFIG_ARCHIVE
    held = members(archive)
    del held["config/files.json"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in held.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.write_bytes(gzip.compress(buffer.getvalue()))
    Backup.objects.filter(pk=backup.pk).update(config_sha256=services.sha256_of(archive))
    backup.refresh_from_db()
    files.put_file(admin_user, demo_cloud, "config", "later.conf", b"x")
    result = services.restore_config(admin_user, demo_cloud, backup)
    assert [c["path"] for c in result.files["removed"]] == ["config/later.conf"]
    assert not demo_cloud.files.exists()


def rollback_config_step(cloud, backup: Backup):
    """A job holding the rollback's configuration step, as the planner writes it."""
    from apps.jobs.models import Job, Step

    job = Job.objects.create(cloud=cloud, kind="rollback", mutating=True, state="running")
    step = Step.objects.create(
        job=job,
        ordinal=1,
        position=1,
        name=f"Put back the configuration archived with backup #{backup.pk}",
        action="ferry-restore-config",
        playbook="",
        extra_vars={"ferry_backup_id": backup.pk},
    )
    return job, step


def test_the_rollback_step_sets_the_configuration_back(with_files, admin_user, tmp_path):
    from apps.jobs.execution import _restore_config

    backup = backup_of(with_files, tmp_path)
    update_cloud(admin_user, with_files, globals_yml="changed_after_the_backup: 1\n")
    job, step = rollback_config_step(with_files, backup)
    assert _restore_config(job, step) == "successful"
    with_files.refresh_from_db()
    assert "changed_after_the_backup" not in with_files.globals_yml
    step.refresh_from_db()
    assert step.state == "succeeded" and step.finished_at is not None
    assert AuditEntry.objects.filter(action="cloud.restore_config", cloud_slug=with_files.slug).exists()


def test_the_rollback_step_fails_on_a_tampered_archive_and_changes_nothing(with_files, admin_user, tmp_path):
    from apps.jobs.execution import _restore_config

    backup = backup_of(with_files, tmp_path)
    (Path(backup.store_path) / services.CONFIG_ARCHIVE).write_bytes(b"not the archive")
    update_cloud(admin_user, with_files, globals_yml="changed_after_the_backup: 1\n")
    job, step = rollback_config_step(with_files, backup)
    assert _restore_config(job, step) == "failed"
    with_files.refresh_from_db()
    job.refresh_from_db()
    assert with_files.globals_yml == "changed_after_the_backup: 1\n"
    assert "it was changed, so it is not restored" in job.result
