"""Unpacking an uploaded inventory safely into a temporary directory."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def unpack_inventory_upload(upload: UploadedFile, into: Path) -> Path:
    """Write ``upload`` under ``into`` and return the path to import (a file or a directory)."""
    if upload.size and upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"inventory": f"is larger than {MAX_UPLOAD_BYTES // 2**20} MiB"})
    name = Path(upload.name or "inventory").name
    target = into / name
    with target.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    if name.endswith(".zip"):
        return _extract_zip(target, into / "unpacked")
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _extract_tar(target, into / "unpacked")
    return target


def _extract_zip(archive: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValidationError(
                        {"inventory": f"archive member {member!r} points outside the archive"}
                    )
            zf.extractall(dest)
    except zipfile.BadZipFile:
        raise ValidationError({"inventory": "is not a readable .zip archive"}) from None
    return _single_root(dest)


def _extract_tar(archive: Path, dest: Path) -> Path:
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ValidationError({"inventory": f"is not a readable tar archive: {exc}"}) from None
    return _single_root(dest)


def _single_root(dest: Path) -> Path:
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
