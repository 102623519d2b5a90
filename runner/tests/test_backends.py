"""Backends: the same planned step becomes the lab's or kolla-ansible's exact invocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.backends import CloudContext, KollaAnsibleBackend, LabBackend, StepInput, split_extra_vars
from runner.inventory import parse_inventory
from runner.kolla import build_invocation

DATA = Path(__file__).parent / "data" / "cells"


def context(tmp_path: Path) -> CloudContext:
    return CloudContext(
        slug="cells",
        inventory=parse_inventory(DATA),
        globals={"kolla_base_distro": "rocky"},
        passwords={"database_password": "Sekrit-123"},
        secrets=["Sekrit-123"],
        release="2026.1",
        distro="rocky",
        distro_version="10",
        var_dir=tmp_path,
        globals_text="# kept\nkolla_base_distro: rocky\n",
    )


def test_lab_step_carries_kolla_action_passwords_and_lab_root(tmp_path):
    step = StepInput(
        action="upgrade", playbook="site.yml", extra_vars={"openstack_release": "2026.1"}, limit="cell1"
    )
    spec = LabBackend().step_spec(context(tmp_path), step, tmp_path / "run")
    assert Path(spec.playbook).name == "site.yml" and Path(spec.playbook).is_file()
    assert spec.extra_vars["kolla_action"] == "upgrade" and spec.extra_vars["kolla_serial"] == 0
    assert spec.extra_vars["database_password"] == "Sekrit-123" and spec.secrets == ["Sekrit-123"]
    assert spec.extra_vars["lab_root"] == str((tmp_path / "lab" / "cells").resolve())
    assert spec.limit == "cell1"


def test_kolla_step_is_the_invocation_the_cli_builds(tmp_path, kolla_install):
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent  # reuse the cached install
    step = StepInput(
        action="mariadb-backup",
        playbook="mariadb-backup.yml",
        extra_vars={"mariadb_backup_type": "incremental"},
    )
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    config = tmp_path / "run" / "etc-kolla"
    expected = build_invocation(
        "mariadb-backup",
        install=kolla_install,
        inventory=tmp_path / "run" / "inventory" / "inventory",
        config_dir=config,
        backup_type="incremental",
    )
    files, values = split_extra_vars(expected.extra_vars)
    assert Path(spec.playbook) == expected.playbook
    assert [str(f) for f in spec.extra_vars_files] == files and spec.extra_vars == values
    assert values["kolla_action"] == "backup" and values["mariadb_backup_type"] == "incremental"
    assert Path(spec.bin_dir) == kolla_install.ansible_playbook.parent
    assert (config / "globals.yml").read_text().startswith("# kept")  # operators' comments reach kolla
    assert (config / "passwords.yml").stat().st_mode & 0o077 == 0


def test_vars_file_after_values_is_refused():
    with pytest.raises(ValueError, match="precedence"):
        split_extra_vars(("a=1", "@late.yml"))
