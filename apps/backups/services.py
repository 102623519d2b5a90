"""Backups as records: take Ferry's copy off the node, verify it, keep a bounded number of chains.

A backup step leaves the backup on one database node; Ferry's own step copies it into an incoming
directory of the backup store. :func:`record_fetched_backup` then recomputes the checksum of that
copy, and only when it matches the one the node recorded is the backup ``verified``. Pruning keeps
``FERRY_BACKUP_KEEP_CHAINS`` full backups (with their increments) per cloud, and never the newest
verified full backup; each pruned backup gets an audit entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.audit.services import record
from apps.backups.models import Backup, BackupKind, BackupState
from apps.clouds.models import Cloud
from apps.clouds.services import render_cloud_inventory

log = logging.getLogger(__name__)


class StaleBackupError(RuntimeError):
    """The node's newest backup is one Ferry already holds: the backup step made none."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cloud_store(cloud: Cloud) -> Path:
    """Where Ferry keeps ``cloud``'s backups: ``FERRY_BACKUP_DIR/<slug>/``."""
    return Path(settings.FERRY_BACKUP_DIR) / cloud.slug


def incoming_dir(cloud: Cloud, job_id: int, step_ordinal: int) -> Path:
    """Where one fetch step of a job puts the backup it copied, before Ferry verifies it."""
    return cloud_store(cloud) / "incoming" / f"job-{job_id}-step-{step_ordinal}"


def record_fetched_backup(
    actor, cloud: Cloud, *, job, step, label: str = "", includes_config: bool = False
) -> Backup:
    """Verify the copy a fetch step left in its incoming directory and record the backup.

    The backup is ``verified`` when the sha256 Ferry computes on its own copy equals the one the node
    recorded, ``failed`` otherwise (the copy is then kept aside for inspection), ``missing`` when the
    step left no copy.
    """
    incoming = incoming_dir(cloud, job.pk, step.ordinal)
    meta = _read_meta(incoming / "meta.json")
    name = str(meta.get("name") or f"unknown-{job.pk}-{step.ordinal}")
    data = incoming / "data"
    state, problem, sha256, size = BackupState.VERIFIED, "", "", 0
    if not data.is_file():
        state, problem = BackupState.MISSING, f"the fetch step left no copy in {incoming}"
    else:
        sha256, size = sha256_of(data), data.stat().st_size
        if sha256 != meta.get("sha256"):
            state = BackupState.FAILED
            problem = f"Ferry's copy has sha256 {sha256}; the node recorded {meta.get('sha256')}"
    held = Backup.objects.filter(cloud=cloud, name=name[:200]).first()
    if held is not None:
        shutil.rmtree(incoming, ignore_errors=True)
        raise StaleBackupError(
            f"the newest backup on {meta.get('node') or 'the database node'}, {name}, is backup #{held.pk} "
            "already: mariadb-backup left no new backup"
        )
    parent = None
    if meta.get("type") == BackupKind.INCREMENTAL:
        # kolla bases an increment on the newest full backup in the volume, which Ferry holds too.
        fulls = Backup.objects.filter(cloud=cloud, kind=BackupKind.FULL, state=BackupState.VERIFIED)
        if meta.get("parent"):
            fulls = fulls.filter(name=str(meta["parent"]))
        parent = fulls.order_by("-taken_at", "-id").first()
    with transaction.atomic():
        backup = Backup.objects.create(
            cloud=cloud,
            kind=BackupKind.INCREMENTAL if meta.get("type") == BackupKind.INCREMENTAL else BackupKind.FULL,
            parent=parent,
            release=cloud.release.series if cloud.release_id else "",
            label=label[:64],
            job=job,
            step=step,
            taken_at=_when(meta.get("created")),
            node=str(meta.get("node") or meta.get("host") or "")[:255],
            name=name[:200],
            size=size,
            sha256=sha256,
            state=state,
            problem=problem[:500],
        )
        if state == BackupState.VERIFIED and parent is None and backup.kind == BackupKind.INCREMENTAL:
            backup.state, backup.problem = BackupState.FAILED, "its full parent is not a backup Ferry holds"
        if data.is_file():
            final = cloud_store(cloud) / f"{backup.pk:06d}-{backup.name}"
            shutil.rmtree(final, ignore_errors=True)
            incoming.rename(final)
            backup.store_path = str(final)
            if includes_config:
                backup.config_sha256 = archive_config(cloud, final / CONFIG_ARCHIVE)
                backup.includes_config = True
        backup.save(update_fields=["state", "problem", "store_path", "config_sha256", "includes_config"])
        record(
            actor,
            "backup.recorded",
            backup,
            detail={
                "state": backup.state,
                "sha256": sha256,
                "size": size,
                "node": backup.node,
                "job": job.pk,
            },
        )
    shutil.rmtree(incoming, ignore_errors=True)
    prune_backups(cloud)
    return backup


CONFIG_ARCHIVE = "config.tar.gz"


def archive_config(cloud: Cloud, path: Path) -> str:
    """Write what ``cloud`` runs with into a tar archive at ``path``; return the archive's sha256.

    globals.yml as stored, passwords.yml still encrypted with FERRY_SECRETS_KEY (as at rest in the
    database), and the inventory with its group_vars as the runner renders it.
    """
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "config"
        root.mkdir()
        (root / "globals.yml").write_text(cloud.globals_yml)
        (root / "passwords.yml.encrypted").write_text(cloud.passwords_encrypted)
        render_cloud_inventory(cloud, root / "inventory")
        with tarfile.open(path, "w:gz") as archive:
            archive.add(root, arcname="config", filter=_without_owner)
    path.chmod(0o600)
    return sha256_of(path)


def _without_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def prune_backups(cloud: Cloud, keep_chains: int | None = None) -> list[int]:
    """Delete the oldest full backups of ``cloud`` (and their increments) beyond ``keep_chains``.

    The newest verified full backup is never pruned, however many newer unverified ones exist.
    Ferry's copies are removed; each pruned backup gets an audit entry.
    """
    keep = keep_chains or settings.FERRY_BACKUP_KEEP_CHAINS
    fulls = list(Backup.objects.filter(cloud=cloud, kind=BackupKind.FULL).order_by("-taken_at", "-id"))
    newest_verified = next((b.pk for b in fulls if b.state == BackupState.VERIFIED), None)
    doomed = [b for b in fulls[keep:] if b.pk != newest_verified]
    pruned: list[int] = []
    for full in doomed:
        with transaction.atomic():
            chain = [*full.increments.all(), full]
            for backup in chain:
                if backup.store_path:
                    shutil.rmtree(backup.store_path, ignore_errors=True)
                record(None, "backup.pruned", backup, detail={"name": backup.name, "keep_chains": keep})
                pruned.append(backup.pk)
                backup.delete()
    if pruned:
        log.info("pruned backups %s of %s (keeping %d chains)", pruned, cloud.slug, keep)
    return pruned


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _when(text) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
