"""A cloud's configuration files beside globals.yml and passwords.yml, and the workflows on them.

kolla-ansible reads more of ``/etc/kolla`` than globals.yml and passwords.yml: ``globals.d/*.yml``
(more variables), ``config/`` (``node_custom_config``: service config overrides such as
``config/nova/nova-compute.conf`` and Ceph keyrings) and ``certificates/`` (``kolla_certificates_dir``:
haproxy.pem, ca/*.crt, private keys). Each file is a :class:`CloudFile`; secret ones (private keys,
keyrings) are encrypted at rest like passwords.yml and never shown to non-admins.

Every way in (the pages, the API, an imported tree, a restored backup) goes through the functions
here, which check paths, sizes and counts before changing anything and write the audit entry (paths
and digests, never content).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tarfile
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from apps.audit.services import record
from apps.clouds import secrets
from apps.clouds.models import Cloud, CloudFile, FileArea
from apps.clouds.services import parse_yaml_mapping, update_cloud
from apps.clouds.uploads import TAR_READ_ERRORS, check_totals, check_upload_size
from runner import secret_vars
from runner.backends import ConfigFile

AREAS: tuple[str, ...] = tuple(FileArea.values)
MAX_PATH = CloudFile._meta.get_field("path").max_length
# A name of one directory level: what Linux file systems allow.
MAX_NAME_BYTES = 255
# Private keys by their names as kolla and Ceph spell them; any file holding a PEM private key.
_SECRET_SUFFIXES = (".keyring", ".key", "-key.pem", "_key.pem")
_PEM_BODY = re.compile(rb"^[A-Za-z0-9+/=]{16,}$")


def check_area(area: Any) -> str:
    """AREA, if it is one of kolla's directories Ferry models; else refused naming ``area``."""
    if area not in AREAS:
        raise ValidationError({"area": f"must be one of {', '.join(AREAS)}, not {str(area)[:40]!r}"})
    return area


def check_path(area: str, path: Any, field: str = "path") -> str:
    """PATH, if it is a safe path relative to AREA's directory; else refused naming FIELD and why."""
    check_area(area)
    if not isinstance(path, str) or not path:
        raise ValidationError({field: "is empty; give the file's path relative to its area"})
    if "\0" in path:
        raise ValidationError({field: "holds a NUL character"})
    if len(path) > MAX_PATH:
        raise ValidationError({field: f"is {len(path)} characters long; at most {MAX_PATH} are accepted"})
    if path.startswith("/"):
        raise ValidationError({field: f"must be relative to {area}/, not absolute"})
    if "\\" in path:
        raise ValidationError({field: "holds a backslash; separate directories with /"})
    parts = path.split("/")
    for part in parts:
        if part == "..":
            raise ValidationError({field: f"must stay inside {area}/ (no .. parts)"})
        if part in ("", "."):
            raise ValidationError({field: "has an empty or '.' part (// or /./ or a trailing /)"})
        if not part.isprintable() or part != part.strip():
            raise ValidationError(
                {field: "names must be printable, without control characters or surrounding spaces"}
            )
        if len(part.encode()) > MAX_NAME_BYTES:
            raise ValidationError({field: f"has a name longer than {MAX_NAME_BYTES} bytes"})
    if area == FileArea.GLOBALS_D and (len(parts) > 1 or not path.endswith(".yml") or path == ".yml"):
        raise ValidationError(
            {field: "globals.d holds only *.yml files, directly in it (kolla-ansible reads no subdirectory)"}
        )
    return path


def is_secret_file(area: str, path: str, content: bytes) -> bool:
    """Whether a file holds a secret: a keyring, a private key (by name or PEM content)."""
    name = path.rsplit("/", 1)[-1].lower()
    return (
        name.endswith(_SECRET_SUFFIXES)
        or b"PRIVATE KEY" in content
        or (area == FileArea.CERTIFICATES and path.startswith("private/"))
    )


def check_content(area: str, path: str, content: bytes, field: str = "content") -> None:
    """Refuse, naming FIELD, content too large for FERRY_MAX_CLOUD_FILE_BYTES or a globals.d file
    that is not a YAML mapping (kolla passes it to every playbook as ``-e @file``)."""
    limit = settings.FERRY_MAX_CLOUD_FILE_BYTES
    if len(content) > limit:
        raise ValidationError(
            {field: f"is {len(content):,} bytes; at most {limit:,} are accepted (FERRY_MAX_CLOUD_FILE_BYTES)"}
        )
    if area == FileArea.GLOBALS_D:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError({field: f"is not UTF-8 text (byte {exc.start + 1} is not)"}) from None
        try:
            parse_yaml_mapping(text, field)
        except ValidationError as exc:
            raise ValidationError({field: f"{area}/{path}: {' '.join(exc.messages)}"}) from None


def read_upload(upload: UploadedFile, field: str = "file") -> bytes:
    """The bytes of an uploaded file, refused naming FIELD past FERRY_MAX_CLOUD_FILE_BYTES."""
    limit = settings.FERRY_MAX_CLOUD_FILE_BYTES
    data = b"".join(upload.chunks()) if (upload.size or 0) <= limit else b""
    if (upload.size or 0) > limit or len(data) > limit:
        size = max(upload.size or 0, len(data))
        raise ValidationError(
            {field: f"is {size:,} bytes; at most {limit:,} are accepted (FERRY_MAX_CLOUD_FILE_BYTES)"}
        )
    return data


def file_content(cloud_file: CloudFile) -> bytes:
    """The plain bytes of a file, decrypted when it is secret."""
    if cloud_file.secret:
        return secrets.decrypt_bytes(cloud_file.content_encrypted)
    return bytes(cloud_file.content)


def shown_content(cloud_file: CloudFile, reads_secrets: bool) -> str | None:
    """The file as text for a reader: None for a secret file and a non-admin, or binary content.

    Non-admins see config overrides and globals.d with secret-named values and URL passwords masked.
    """
    if cloud_file.secret and not reads_secrets:
        return None
    try:
        text = file_content(cloud_file).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if reads_secrets:
        return text
    if cloud_file.area == FileArea.GLOBALS_D:
        return secret_vars.hide_secrets_in_yaml(text)
    return secret_vars.hide_secrets_in_config(text)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _check_no_clash(paths: list[str], field: str) -> None:
    """A file cannot also be a directory: ``config/nova`` beside ``config/nova/nova.conf``."""
    known = set(paths)
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in known:
                raise ValidationError({field: f"{path} needs {parent} to be a directory, but it is a file"})


def _store(cloud_file: CloudFile, content: bytes) -> None:
    cloud_file.secret = is_secret_file(cloud_file.area, cloud_file.path, content)
    cloud_file.size = len(content)
    cloud_file.sha256 = _digest(content)
    if cloud_file.secret:
        cloud_file.content, cloud_file.content_encrypted = b"", secrets.encrypt_bytes(content)
    else:
        cloud_file.content, cloud_file.content_encrypted = content, ""


@transaction.atomic
def put_file(actor, cloud: Cloud, area: str, path: str, content: bytes) -> CloudFile:
    """Add the file at AREA/PATH of ``cloud``, or replace its content. Same content: nothing changes."""
    check_path(area, path)
    check_content(area, path, content)
    existing = CloudFile.objects.select_for_update().filter(cloud=cloud, area=area, path=path).first()
    if existing is not None and existing.sha256 == _digest(content):
        return existing
    if existing is None:
        count = CloudFile.objects.filter(cloud=cloud).count()
        if count >= settings.FERRY_MAX_CLOUD_FILES:
            raise ValidationError(
                {
                    "path": f"{cloud.slug} holds {count} files already; at most "
                    f"{settings.FERRY_MAX_CLOUD_FILES} are accepted (FERRY_MAX_CLOUD_FILES)"
                }
            )
        others = list(CloudFile.objects.filter(cloud=cloud, area=area).values_list("path", flat=True))
        _check_no_clash([*others, path], "path")
    before = existing.sha256 if existing else None
    cloud_file = existing or CloudFile(cloud=cloud, area=area, path=path)
    _store(cloud_file, content)
    cloud_file.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    cloud_file.save()
    record(
        actor,
        "cloud.file.put",
        cloud,
        detail={
            "path": cloud_file.relative_path,
            "size": cloud_file.size,
            "sha256": cloud_file.sha256,
            "before_sha256": before,
            "secret": cloud_file.secret,
        },
    )
    return cloud_file


@transaction.atomic
def delete_file(actor, cloud: Cloud, cloud_file: CloudFile) -> None:
    """Remove one configuration file of ``cloud``."""
    if cloud_file.cloud_id != cloud.pk:
        raise ValidationError({"file": f"file #{cloud_file.pk} belongs to another cloud"})
    detail = {"path": cloud_file.relative_path, "sha256": cloud_file.sha256, "secret": cloud_file.secret}
    cloud_file.delete()
    record(actor, "cloud.file.delete", cloud, detail=detail)


def replace_files(actor, cloud: Cloud, wanted: dict[tuple[str, str], bytes]) -> dict[str, list]:
    """Make ``cloud``'s files exactly WANTED ((area, path) → content); return what changed, by path
    and digest. The caller has checked WANTED and holds the transaction."""
    held = {(f.area, f.path): f for f in CloudFile.objects.select_for_update().filter(cloud=cloud)}
    changes: dict[str, list] = {"added": [], "changed": [], "removed": []}
    for key, cloud_file in held.items():
        if key not in wanted:
            changes["removed"].append({"path": cloud_file.relative_path, "sha256": cloud_file.sha256})
            cloud_file.delete()
    user = actor if getattr(actor, "is_authenticated", False) else None
    for (area, path), content in sorted(wanted.items()):
        cloud_file = held.get((area, path))
        if cloud_file is not None and cloud_file.sha256 == _digest(content):
            continue
        before = cloud_file.sha256 if cloud_file else None
        cloud_file = cloud_file or CloudFile(cloud=cloud, area=area, path=path)
        _store(cloud_file, content)
        cloud_file.updated_by = user
        cloud_file.save()
        entry = {"path": cloud_file.relative_path, "sha256": cloud_file.sha256, "secret": cloud_file.secret}
        if before is None:
            changes["added"].append(entry)
        else:
            changes["changed"].append({**entry, "before_sha256": before})
    return changes


@dataclass
class ConfigTree:
    """What a kolla config dir archive holds: its files by (area, path), globals.yml, passwords.yml."""

    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    globals_yml: bytes | None = None
    passwords_yml: bytes | None = None
    skipped: list[str] = field(default_factory=list)


_TOP_FILES = {"globals.yml": "globals_yml", "passwords.yml": "passwords_yml"}


def read_config_tree(upload: UploadedFile, field: str = "archive") -> ConfigTree:
    """Read a .tar.gz of a kolla config dir (``/etc/kolla`` or its content) within the upload limits.

    Nothing is extracted to disk. A member that is a link or device, that points outside the
    archive, is too large or has a path Ferry would refuse, refuses the whole archive, named.
    Members outside globals.d/, config/ and certificates/ other than globals.yml and passwords.yml
    (an inventory, admin-openrc.sh) are listed in ``skipped``.
    """
    check_upload_size(upload, field)
    name = (upload.name or "").lower()
    if not name.endswith((".tar.gz", ".tgz", ".tar")):
        raise ValidationError({field: "must be a .tar.gz (or .tgz, .tar) of a kolla config dir"})
    per_file = settings.FERRY_MAX_CLOUD_FILE_BYTES
    entries: list[tuple[str, str, bytes]] = []
    try:
        upload.seek(0)
        with tarfile.open(fileobj=upload, mode="r:*") as archive:
            count, total = 0, 0
            # Headers are read one by one, so a huge archive is refused at its first excess member.
            for member in archive:
                count += 1
                check_totals(count, total, field)
                member_name = member.name
                parts = [p for p in member_name.replace("\\", "/").split("/") if p not in ("", ".")]
                if member_name.startswith("/") or ".." in parts or "\0" in member_name:
                    raise ValidationError(
                        {field: f"archive member {member_name!r} points outside the archive"}
                    )
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ValidationError(
                        {
                            field: f"archive member {member_name!r} is a link or special file; "
                            "only regular files and directories are accepted"
                        }
                    )
                if member.size > per_file:
                    raise ValidationError(
                        {
                            field: f"archive member {member_name!r} is {member.size:,} bytes; at most "
                            f"{per_file:,} are accepted (FERRY_MAX_CLOUD_FILE_BYTES)"
                        }
                    )
                total += member.size
                check_totals(count, total, field)
                handle = archive.extractfile(member)
                data = handle.read(per_file + 1) if handle else b""
                if len(data) != member.size:
                    raise ValidationError({field: f"archive member {member_name!r} is truncated"})
                entries.append(("/".join(parts), member_name, data))
    except TAR_READ_ERRORS as exc:  # nothing is written here: every read error is the archive's
        raise ValidationError({field: f"is not a readable tar archive: {exc}"}) from None
    return _classify(_strip_root(entries), field)


def _strip_root(entries: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
    """Take off leading directories (``kolla/``, ``etc/kolla/``) above the config dir itself.

    Entries are (path in the config dir, name in the archive, content).
    """
    while entries:
        firsts = {name.split("/", 1)[0] for name, _, _ in entries}
        if len(firsts) != 1 or firsts & {*AREAS, *_TOP_FILES} or any("/" not in n for n, _, _ in entries):
            break
        entries = [(name.split("/", 1)[1], member, data) for name, member, data in entries]
    return entries


def _classify(entries: list[tuple[str, str, bytes]], field: str) -> ConfigTree:
    tree = ConfigTree()
    for name, member, data in entries:
        top, _, rest = name.partition("/")
        if top in AREAS and rest:
            try:
                check_path(top, rest)
                check_content(top, rest, data)
            except ValidationError as exc:
                raise ValidationError(
                    {field: f"archive member {member!r}: {' '.join(exc.messages)}"}
                ) from None
            tree.files[(top, rest)] = data
        elif name in _TOP_FILES:
            setattr(tree, _TOP_FILES[name], data)
        else:
            tree.skipped.append(name)
    if len(tree.files) > settings.FERRY_MAX_CLOUD_FILES:
        raise ValidationError(
            {
                field: f"holds {len(tree.files)} configuration files; at most "
                f"{settings.FERRY_MAX_CLOUD_FILES} are accepted (FERRY_MAX_CLOUD_FILES)"
            }
        )
    for area in AREAS:
        _check_no_clash([path for a, path in tree.files if a == area], field)
    return tree


@dataclass
class TreeImport:
    """What importing a config tree changed."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: list[str]
    globals_yml: bool
    passwords_yml: bool


def _text(data: bytes, member: str, field: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            {field: f"archive member {member!r} is not UTF-8 text (byte {exc.start + 1})"}
        ) from None


@transaction.atomic
def import_config_tree(actor, cloud: Cloud, upload: UploadedFile, field: str = "archive") -> TreeImport:
    """Replace ``cloud``'s configuration files with those of an uploaded kolla config dir archive.

    globals.yml and passwords.yml in the archive replace the cloud's too. All or nothing: a bad
    member refuses the whole import, naming the member, and nothing changes.
    """
    tree = read_config_tree(upload, field)
    updates: dict[str, str] = {}
    for key, member in (("globals_yml", "globals.yml"), ("passwords_yml", "passwords.yml")):
        data = getattr(tree, key)
        if data is not None:
            text = _text(data, member, field)
            try:
                parse_yaml_mapping(text, key)
            except ValidationError as exc:
                raise ValidationError(
                    {field: f"archive member {member!r}: {' '.join(exc.messages)}"}
                ) from None
            updates[key] = text
    if updates:
        update_cloud(actor, cloud, **updates)
    changes = replace_files(actor, cloud, tree.files)
    record(
        actor,
        "cloud.files.import",
        cloud,
        detail={**changes, "skipped": tree.skipped[:100], "replaced": sorted(updates)},
    )
    return TreeImport(
        added=[c["path"] for c in changes["added"]],
        changed=[c["path"] for c in changes["changed"]],
        removed=[c["path"] for c in changes["removed"]],
        skipped=tree.skipped,
        globals_yml="globals_yml" in updates,
        passwords_yml="passwords_yml" in updates,
    )


def runner_files(cloud: Cloud) -> list[ConfigFile]:
    """The cloud's files as the runner writes them into a run's config dir."""
    return [
        ConfigFile(area=f.area, path=f.path, content=file_content(f), secret=f.secret)
        for f in cloud.files.order_by("area", "path")
    ]


def file_secret_values(cloud: Cloud) -> set[str]:
    """Values in the cloud's files to mask in job output: secret-named settings, URL passwords,
    the lines of private keys and keyrings."""
    values: set[str] = set()
    for cloud_file in cloud.files.all():
        content = file_content(cloud_file)
        text = content.decode("utf-8", errors="replace")
        if cloud_file.area == FileArea.GLOBALS_D:
            with contextlib.suppress(ValidationError):
                values.update(secret_vars.secret_values(parse_yaml_mapping(text, "globals.d")))
        else:
            values.update(secret_vars.config_secret_values(text))
        if cloud_file.secret:
            values.update(line.decode() for line in content.splitlines() if _PEM_BODY.match(line.strip()))
    return values


def files_state(cloud: Cloud) -> list[list[str]]:
    """(area, path, sha256) of every file: what a plan's revision depends on."""
    return [list(row) for row in cloud.files.order_by("area", "path").values_list("area", "path", "sha256")]
