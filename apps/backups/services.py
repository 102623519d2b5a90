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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit.services import record
from apps.backups.models import Backup, BackupKind, BackupState
from apps.clouds import secrets
from apps.clouds.files import check_content, check_path, replace_files
from apps.clouds.models import Cloud
from apps.clouds.services import cloud_passwords, parse_yaml_mapping, render_cloud_inventory
from runner import secret_vars

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


FILES_MANIFEST = "files.json"
# Secret files sit apart from the plain ones, so no name of the cloud's can collide with them.
ENCRYPTED_DIR = "encrypted"


def archive_config(cloud: Cloud, path: Path) -> str:
    """Write what ``cloud`` runs with into a tar archive at ``path``; return the archive's sha256.

    Under ``config/``: globals.yml as stored, passwords.yml still encrypted with FERRY_SECRETS_KEY
    (as at rest in the database), the inventory with its group_vars as the runner renders it, the
    configuration files as kolla reads them (``globals.d/``, ``config/``, ``certificates/``; secret
    ones still encrypted, under ``encrypted/<area>/``) and ``files.json``, which lists each file
    with its area, path, size, sha256 (of the plain bytes) and archive member.
    """
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "config"
        root.mkdir()
        (root / "globals.yml").write_text(cloud.globals_yml)
        (root / "passwords.yml.encrypted").write_text(cloud.passwords_encrypted)
        render_cloud_inventory(cloud, root / "inventory")
        manifest = []
        for cloud_file in cloud.files.order_by("area", "path"):
            member = f"{ENCRYPTED_DIR}/" if cloud_file.secret else ""
            member += cloud_file.relative_path
            target = root.joinpath(*member.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            if cloud_file.secret:
                target.write_text(cloud_file.content_encrypted)
            else:
                target.write_bytes(bytes(cloud_file.content))
            manifest.append(
                {
                    "area": cloud_file.area,
                    "path": cloud_file.path,
                    "size": cloud_file.size,
                    "sha256": cloud_file.sha256,
                    "secret": cloud_file.secret,
                    "member": member,
                }
            )
        (root / FILES_MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
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


@dataclass
class ConfigRestore:
    """What restoring a backup's configuration changed, and what it found but left alone."""

    backup: int
    globals_yml: bool = False
    passwords_yml: bool = False
    files: dict[str, list] = field(default_factory=dict)
    # Paths of the rendered inventory that differ from the archived one: reported, not restored.
    inventory_differs: list[str] = field(default_factory=list)


def _refuse(message: str) -> ValidationError:
    return ValidationError({"backup": message})


def _read_archive(path: Path) -> dict[str, bytes]:
    """Every regular file of a configuration archive by name, within the unpack limits."""
    members: dict[str, bytes] = {}
    total, limit = 0, settings.FERRY_MAX_UNPACKED_BYTES
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                total += member.size
                if total > limit:
                    raise _refuse(f"its configuration archive unpacks to more than {limit:,} bytes")
                handle = archive.extractfile(member)
                members[member.name] = handle.read() if handle else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _refuse(f"its configuration archive cannot be read: {exc}") from None
    return members


def restore_config(actor, cloud: Cloud, backup: Backup) -> ConfigRestore:
    """Set ``cloud``'s globals.yml, passwords and configuration files back to what ``backup``'s
    configuration archive holds.

    Only a verified backup of this cloud whose archive still has the sha256 recorded when it was
    taken; anything else is refused naming ``backup`` and nothing changes. Every archived file is
    checked against the sha256 its manifest records. The inventory is not restored: where the
    archived one differs from today's, the paths are reported (and audited).
    """
    if backup.cloud_id != cloud.pk:
        raise _refuse(f"backup #{backup.pk} belongs to another cloud, not {cloud.slug}")
    if backup.state != BackupState.VERIFIED:
        raise _refuse(f"backup #{backup.pk} is {backup.state}, not verified")
    if not backup.includes_config or not backup.config_sha256 or not backup.store_path:
        raise _refuse(f"backup #{backup.pk} holds no configuration archive")
    path = Path(backup.store_path) / CONFIG_ARCHIVE
    if not path.is_file():
        raise _refuse(f"the configuration archive of backup #{backup.pk} is missing from {path.parent}")
    digest = sha256_of(path)
    if digest != backup.config_sha256:
        raise _refuse(
            f"the configuration archive of backup #{backup.pk} has sha256 {digest}, not the "
            f"{backup.config_sha256} recorded when it was taken: it was changed, so it is not restored"
        )
    members = _read_archive(path)
    try:
        globals_yml = members["config/globals.yml"].decode("utf-8")
        token = members["config/passwords.yml.encrypted"].decode("ascii")
    except (KeyError, UnicodeDecodeError):
        raise _refuse(
            f"the configuration archive of backup #{backup.pk} lacks globals.yml or passwords"
        ) from None
    try:
        passwords_yml = secrets.decrypt(token) if token else ""
    except ValueError as exc:
        raise _refuse(f"backup #{backup.pk}: {exc}") from None
    wanted = _archived_files(backup, members)
    inventory_differs = _inventory_differences(cloud, members)

    with transaction.atomic():
        cloud = Cloud.objects.select_for_update().get(pk=cloud.pk)
        result = ConfigRestore(backup=backup.pk, inventory_differs=inventory_differs)
        detail: dict = {"backup": backup.pk, "config_sha256": backup.config_sha256}
        if globals_yml != cloud.globals_yml:
            detail["globals_yml"] = {
                "before": secret_vars.hide_secrets_in_yaml(cloud.globals_yml),
                "after": secret_vars.hide_secrets_in_yaml(globals_yml),
            }
            cloud.globals_yml, result.globals_yml = globals_yml, True
        try:
            current = secrets.decrypt(cloud.passwords_encrypted) if cloud.passwords_encrypted else ""
        except ValueError:
            current = None
        if passwords_yml != current:
            parse_yaml_mapping(passwords_yml, "passwords_yml")
            before_names = sorted(cloud_passwords(cloud)) if current is not None else ["(unreadable)"]
            cloud.passwords_encrypted = secrets.encrypt(passwords_yml) if passwords_yml else ""
            detail["passwords_yml"] = {"before": before_names, "after": sorted(cloud_passwords(cloud))}
            result.passwords_yml = True
        cloud.save()
        result.files = replace_files(actor, cloud, wanted)
        detail.update(files=result.files, inventory_differs=inventory_differs)
        record(actor, "cloud.restore_config", cloud, detail=detail)
    return result


def _archived_files(backup: Backup, members: dict[str, bytes]) -> dict[tuple[str, str], bytes]:
    """The files of the archive's manifest, each checked against its recorded sha256. An archive
    taken before Ferry kept configuration files has no manifest: it holds no files."""
    raw = members.get(f"config/{FILES_MANIFEST}")
    if raw is None:
        return {}
    try:
        manifest = json.loads(raw)
    except ValueError:
        manifest = None
    if not isinstance(manifest, list):
        raise _refuse(f"the file list of backup #{backup.pk}'s configuration archive is unreadable") from None
    wanted: dict[tuple[str, str], bytes] = {}
    for entry in manifest:
        try:
            area, rel, secret = str(entry["area"]), str(entry["path"]), bool(entry["secret"])
            data = members[f"config/{entry['member']}"]
            content = secrets.decrypt_bytes(data.decode("ascii")) if secret else data
            check_path(area, rel)
            check_content(area, rel, content)
        except (KeyError, TypeError, ValueError, UnicodeDecodeError, ValidationError) as exc:
            raise _refuse(f"backup #{backup.pk}: an archived file cannot be restored: {exc}") from None
        if hashlib.sha256(content).hexdigest() != entry.get("sha256"):
            raise _refuse(f"backup #{backup.pk}: {area}/{rel} does not match the sha256 its archive recorded")
        wanted[(area, rel)] = content
    return wanted


def _inventory_differences(cloud: Cloud, members: dict[str, bytes]) -> list[str]:
    """Paths of the inventory (``inventory/…``) that differ between the archive and today's render."""
    prefix = "config/inventory/"
    archived = {name[len("config/") :]: data for name, data in members.items() if name.startswith(prefix)}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        render_cloud_inventory(cloud, root / "inventory")
        current = {
            str(p.relative_to(root)): p.read_bytes() for p in (root / "inventory").rglob("*") if p.is_file()
        }
    return sorted(name for name in set(archived) | set(current) if archived.get(name) != current.get(name))
