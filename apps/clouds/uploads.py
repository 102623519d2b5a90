"""Unpacking an uploaded inventory safely into a temporary directory.

An archive's members are counted and their sizes added up before anything is extracted, and the
bytes actually written are counted again while extracting, so a small archive cannot unpack into
more than ``FERRY_MAX_UNPACKED_BYTES``.
"""

from __future__ import annotations

import gzip
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

# An inventory directory holds a file per group or host with variables; kolla's has a few.
MAX_ARCHIVE_MEMBERS = 10_000
# What reading a damaged tar archive or its compressed stream raises (gzip, bz2 and xz alike):
# bz2 reports bad data as a bare OSError, xz as LZMAError, which is no OSError.
TAR_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)
_CHUNK = 2**20


def unpack_inventory_upload(upload: UploadedFile, into: Path) -> Path:
    """Write ``upload`` under ``into`` and return the path to import (a file or a directory)."""
    check_upload_size(upload, "inventory")
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


def _refuse(message: str, field: str = "inventory") -> ValidationError:
    return ValidationError({field: message})


def check_totals(members: int, size: int, field: str = "inventory") -> None:
    """Refuse, naming FIELD, an archive of too many members or that unpacks to too many bytes."""
    if members > MAX_ARCHIVE_MEMBERS:
        raise _refuse(f"archive holds more than {MAX_ARCHIVE_MEMBERS:,} members", field)
    limit = settings.FERRY_MAX_UNPACKED_BYTES
    if size > limit:
        raise _refuse(f"archive would unpack to more than {limit:,} bytes (FERRY_MAX_UNPACKED_BYTES)", field)


def check_upload_size(upload: UploadedFile, field: str) -> None:
    """Refuse, naming FIELD, an upload larger than FERRY_MAX_UPLOAD_BYTES."""
    limit = settings.FERRY_MAX_UPLOAD_BYTES
    if upload.size and upload.size > limit:
        raise _refuse(f"is {upload.size:,} bytes; at most {limit:,} are accepted", field)


_check_totals = check_totals


def _member_path(dest: Path, name: str) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or name.startswith("/") or ".." in parts or "\0" in name:
        raise _refuse(f"archive member {name!r} points outside the archive")
    return dest.joinpath(*parts)


def _extract_zip(archive: Path, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _check_totals(len(infos), sum(info.file_size for info in infos))
            written = 0
            for info in infos:
                target = _member_path(dest, info.filename)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # A member's header may understate its size: count what is really written.
                with zf.open(info) as source, target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        _check_totals(0, written)
                        out.write(chunk)
    # What reading a bad archive raises: damaged headers or data, an unsupported compression method,
    # an encrypted member. Writing to Ferry's own disk (OSError) is Ferry's fault, not the archive's.
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
        RuntimeError,
        zlib.error,
    ) as exc:
        raise _refuse(f"is not a readable .zip archive: {exc}") from None
    return _single_root(dest)


def _extract_tar(archive: Path, dest: Path) -> Path:
    with ExitStack() as stack:
        # Headers are read one by one, so a huge archive is refused at its first excess member. This
        # reads the whole compressed stream: a damaged one fails here, where nothing is written yet,
        # so any OSError is the archive's.
        with _reading_tar():
            tf = stack.enter_context(tarfile.open(archive))
            members, size = [], 0
            for member in tf:
                members.append(member)
                size += member.size
                _check_totals(len(members), size)
        # Writing: Ferry's own disk failing (OSError) is not blamed on the archive.
        try:
            tf.extractall(dest, members=members, filter="data")
        except (tarfile.TarError, gzip.BadGzipFile, zlib.error, lzma.LZMAError, EOFError) as exc:
            raise _refuse(f"is not a readable tar archive: {exc}") from None
    return _single_root(dest)


@contextmanager
def _reading_tar() -> Iterator[None]:
    try:
        yield
    except TAR_READ_ERRORS as exc:
        raise _refuse(f"is not a readable tar archive: {exc}") from None


def _single_root(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)  # an empty archive creates nothing
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
