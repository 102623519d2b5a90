"""Ferry's own playbooks for the kolla-ansible backend, run for real against local hosts."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from runner.backends import FERRY_PLAYBOOK_DIR
from runner.execute import StepSpec, run_step
from runner.tests.lab_fixtures import Collector

pytestmark = pytest.mark.ansible

INVENTORY = "[control]\nctl1\nctl2\n\n[mariadb:children]\ncontrol\n\n[all:vars]\nansible_connection=local\n"


def fetch(tmp_path: Path, volume: Path) -> tuple[str, Path]:
    dest = tmp_path / "store" / "incoming"
    result = run_step(
        StepSpec(
            playbook=FERRY_PLAYBOOK_DIR / "ferry-backup-fetch.yml",
            inventory=INVENTORY,
            extra_vars={
                "ferry_backup_dest": str(dest),
                "ferry_backup_volume": str(volume),
                "ferry_backup_become": False,
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
            run_dir=tmp_path / "runs",
        ),
        sink=Collector(),
        should_cancel=lambda: False,
    )
    return result.status, dest


def test_fetch_copies_the_newest_backup_of_the_first_mariadb_host_with_its_checksum(tmp_path: Path) -> None:
    volume = tmp_path / "mariadb_backup"
    volume.mkdir()
    old, new = (
        volume / "mysqlbackup-01-12-2026-1.qp.xbc.xbs.gz",
        volume / "incremental-08-mysqlbackup-2.qp.xbc.xbs.gz",
    )
    old.write_bytes(b"full backup")
    new.write_bytes(b"the increment")
    os.utime(old, (time.time() - 60, time.time() - 60))
    status, dest = fetch(tmp_path, volume)
    assert status == "successful"
    assert (dest / "data").read_bytes() == b"the increment"
    meta = json.loads((dest / "meta.json").read_text())
    assert meta["name"] == new.name and meta["type"] == "incremental" and meta["node"] == "ctl1"
    assert meta["sha256"] == hashlib.sha256(b"the increment").hexdigest() and meta["size"] == 13


def test_fetch_fails_and_says_why_when_the_volume_holds_no_backup(tmp_path: Path) -> None:
    volume = tmp_path / "mariadb_backup"
    volume.mkdir()
    status, dest = fetch(tmp_path, volume)
    assert status == "failed" and not (dest / "data").exists()
