"""A .zip inventory that cannot be read is the uploader's problem (400); Ferry's own disk is not."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.clouds.uploads import unpack_inventory_upload


def _corrupt_deflate() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inv/multinode", "[control]\nctl01\n" * 50)
    data = bytearray(buffer.getvalue())
    start = data.index(b"inv/multinode") + len(b"inv/multinode")
    data[start : start + 8] = b"\xff" * 8  # the compressed stream, not the headers
    return bytes(data)


def test_a_zip_whose_data_is_corrupt_is_refused_naming_the_field(tmp_path: Path) -> None:
    upload = SimpleUploadedFile("inv.zip", _corrupt_deflate())
    with pytest.raises(ValidationError) as refused:
        unpack_inventory_upload(upload, tmp_path)
    assert "is not a readable .zip archive" in refused.value.message_dict["inventory"][0]


def test_ferrys_own_disk_failing_is_not_blamed_on_the_archive(tmp_path: Path, monkeypatch) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("inv/multinode", "[control]\nctl01\n")
    upload = SimpleUploadedFile("inv.zip", buffer.getvalue())
    real_open = Path.open

    def disk_full(self, mode="r", *args, **kwargs):
        if "w" in mode and self.name == "multinode":
            raise OSError(28, "No space left on device")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", disk_full)
    with pytest.raises(OSError, match="No space left"):
        unpack_inventory_upload(upload, tmp_path)
