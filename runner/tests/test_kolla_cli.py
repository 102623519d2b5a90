"""build_invocation must build the very command the real kolla-ansible 22 CLI runs.

The installed `kolla-ansible` runs for real, with a stand-in `ansible-playbook` first on PATH
that records its argv and environment and exits 0; build_invocation, given the same options,
must produce the same arguments.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner.inventory import parse_inventory, render_inventory
from runner.kolla import Invocation, KollaInstall, build_invocation

pytestmark = pytest.mark.ansible

DATA = Path(__file__).resolve().parent / "data"

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RECORD_TO"], "w") as out:
    json.dump({{"argv": sys.argv, "env": dict(os.environ)}}, out)
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kolla-cli")
    config = root / "etc" / "kolla"
    (config / "globals.d").mkdir(parents=True)
    (config / "globals.yml").write_text("kolla_base_distro: rocky\nenable_cells: true\n")
    (config / "passwords.yml").write_text("database_password: secret\n")
    (config / "globals.d" / "20-network.yml").write_text("network_interface: eth0\n")
    (config / "globals.d" / "10-cells.yaml").write_text("nova_cell_conductor_has_api_database: false\n")
    (config / "globals.d" / "README").write_text("not a vars file: kolla-ansible skips it\n")
    inventory = render_inventory(parse_inventory(DATA / "cells"), root / "inventory")
    fake_bin = root / "fake-bin"
    fake_bin.mkdir()
    recorder = fake_bin / "ansible-playbook"
    recorder.write_text(RECORDER.format(python=sys.executable))
    recorder.chmod(0o755)
    vault_file = root / "vault-pass"
    vault_file.write_text("not used\n")
    return {"root": root, "config": config, "inventory": inventory, "fake_bin": fake_bin, "vault": vault_file}


def run_kolla_cli(
    install: KollaInstall, setup: dict[str, Path], argv: list[str], clean_ansible_env
) -> dict[str, Any]:
    record = setup["root"] / "record.json"
    record.unlink(missing_ok=True)
    env = clean_ansible_env(
        PATH=os.pathsep.join([str(setup["fake_bin"]), str(install.bin), os.environ.get("PATH", "")]),
        RECORD_TO=str(record),
    )
    env.pop("KOLLA_CONFIG_PATH", None)
    env.pop("KOLLA_ANSIBLE_DATA_FILES_PATH", None)
    proc = subprocess.run(
        [str(install.kolla_ansible), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=setup["root"],
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recorded = json.loads(record.read_text())
    recorded["given_env"] = env
    return recorded


# (kolla-ansible command line after the program name, build_invocation options)
CASES: list[tuple[list[str], dict[str, Any]]] = [
    (["deploy"], {}),
    (["deploy", "--limit", "cell1", "--tags", "nova"], {"limit": "cell1", "tags": "nova"}),
    (["upgrade"], {}),
    (
        ["upgrade", "--tags", "nova-cell-upgrade", "--limit", "cell2"],
        {"tags": "nova-cell-upgrade", "limit": "cell2"},
    ),
    (
        ["upgrade", "--tags", "nova-reload,nova-online-data-migrations"],
        {"tags": "nova-reload,nova-online-data-migrations"},
    ),
    (
        ["reconfigure", "--skip-tags", "haproxy", "-e", "nova_debug=True"],
        {"skip_tags": "haproxy", "extra_vars": {"nova_debug": "True"}},
    ),
    (["mariadb-backup", "--incremental"], {"backup_type": "incremental"}),
    (["mariadb-backup", "--full", "--limit", "control01"], {"backup_type": "full", "limit": "control01"}),
    (["mariadb-backup"], {}),
    (["mariadb-recovery"], {}),
    (["bootstrap-servers"], {}),
    (["bootstrap-servers", "--limit", "compute03"], {"limit": "compute03"}),
    (
        ["bootstrap-servers", "-e", "ansible_python_interpreter=/usr/bin/python3"],
        {"extra_vars": {"ansible_python_interpreter": "/usr/bin/python3"}},
    ),
    (["prechecks"], {}),
    (["prechecks", "--use-test-images"], {"use_test_images": True}),
    (["pull", "--limit", "cell1"], {"limit": "cell1"}),
    (["check"], {}),
    (["genconfig"], {}),
    (["validate-config"], {}),
    (["post-deploy"], {}),
    (["rabbitmq-reset-state"], {}),
    (["stop", "--yes-i-really-really-mean-it"], {}),
    (["stop", "--yes-i-really-really-mean-it", "--ignore-missing"], {"ignore_missing": True}),
    (["destroy", "--yes-i-really-really-mean-it"], {}),
    (
        ["destroy", "--yes-i-really-really-mean-it", "--include-dev", "--include-images"],
        {"include_dev": True, "include_images": True},
    ),
    (
        ["-v", "deploy", "--check", "--diff", "--become"],
        {"verbosity": 1, "check": True, "diff": True, "become": True},
    ),
    (["-vv", "upgrade"], {"verbosity": 2}),
    (["deploy", "--vault-password-file", "{vault}"], {"vault_password_files": ["{vault}"]}),
]


def case_id(case: tuple[list[str], dict[str, Any]]) -> str:
    return " ".join(case[0]).replace("--yes-i-really-really-mean-it ", "")


@pytest.mark.parametrize(("cli", "options"), CASES, ids=[case_id(case) for case in CASES])
def test_build_invocation_matches_the_kolla_ansible_cli(
    kolla_install: KollaInstall,
    setup: dict[str, Path],
    clean_ansible_env,
    cli: list[str],
    options: dict[str, Any],
) -> None:
    cli = [arg.format(vault=setup["vault"]) for arg in cli]
    options = {
        key: [item.format(vault=setup["vault"]) for item in value] if key == "vault_password_files" else value
        for key, value in options.items()
    }
    # cliff's own -v (verbose level 1 by default) goes before the command.
    split = 1 if cli[0].startswith("-v") else 0
    global_args, command = cli[:split], cli[split:]
    action = command[0]
    # Paths are given to both sides exactly as they are: build_invocation resolves the config
    # dir and the playbooks as kolla-ansible does, so nothing needs normalising.
    recorded = run_kolla_cli(
        kolla_install,
        setup,
        [*global_args, *command, "--configdir", str(setup["config"]), "-i", str(setup["inventory"])],
        clean_ansible_env,
    )
    invocation: Invocation = build_invocation(
        action, install=kolla_install, inventory=setup["inventory"], config_dir=setup["config"], **options
    )

    # kolla-ansible runs whichever ansible-playbook PATH finds; Ferry names the one of the
    # kolla-ansible virtualenv, the only one that can import kolla's Ansible plugins.
    assert Path(recorded["argv"][0]).name == invocation.executable.name == "ansible-playbook"
    assert invocation.executable.parent == kolla_install.bin
    assert recorded["argv"][1:] == invocation.args
    # kolla-ansible 22 adds nothing to the environment (no ANSIBLE_CONFIG, no roles path).
    assert recorded["env"] == recorded["given_env"]


def test_extra_vars_come_in_kolla_order(kolla_install: KollaInstall, setup: dict[str, Path]) -> None:
    config = setup["config"]
    invocation = build_invocation(
        "mariadb-backup",
        install=kolla_install,
        inventory=setup["inventory"],
        config_dir=config,
        backup_type="incremental",
    )
    assert list(invocation.extra_vars) == [
        f"@{config}/globals.yml",
        f"@{config}/passwords.yml",
        f"@{config}/globals.d/10-cells.yaml",
        f"@{config}/globals.d/20-network.yml",
        "kolla_action=backup",
        "mariadb_backup_type=incremental",
        f"CONFIG_DIR={config}",
    ]
    assert invocation.playbook == kolla_install.playbooks_dir / "mariadb-backup.yml"


@pytest.mark.parametrize("pin", [False, True], ids=["kolla-defaults", "globals-name-etc-kolla"])
def test_the_command_a_kolla_step_logs_is_the_one_it_runs(
    kolla_install: KollaInstall,
    setup: dict[str, Path],
    clean_ansible_env,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    pin: bool,
) -> None:
    """A run dir with the cloud's files: the logged `kolla-ansible … --configdir <run dir>`, run by the
    real CLI, passes what the step passes, globals.d included."""
    from runner.backends import CloudContext, ConfigFile, KollaAnsibleBackend, StepInput

    context = CloudContext(
        slug="cells",
        inventory=parse_inventory(DATA / "cells"),
        globals={"node_custom_config": "/etc/kolla/config"} if pin else {},
        passwords={"database_password": "x"},
        secrets=[],
        release="2026.1",
        distro="rocky",
        distro_version="10",
        var_dir=kolla_install.venv.parent.parent,
        files=[
            ConfigFile("globals.d", "50-tls.yml", b"kolla_enable_tls_external: 'yes'\n"),
            ConfigFile("config", "nova/nova-compute.conf", b"[DEFAULT]\n"),
            ConfigFile("certificates", "haproxy.pem", b"-----BEGIN PRIVATE KEY-----\n", secret=True),
        ],
    )
    step = StepInput(action="upgrade", playbook="site.yml", extra_vars={}, limit="cell1")
    with caplog.at_level("INFO", logger="runner.backends"):
        spec = KollaAnsibleBackend().step_spec(context, step, tmp_path / "run")
    (command,) = [
        r.getMessage().split(" is ", 1)[1] for r in caplog.records if r.getMessage().startswith("step ")
    ]
    config = tmp_path / "run" / "etc-kolla"
    assert f"--configdir {config}" in command
    argv = shlex.split(command)
    assert argv[0] == "kolla-ansible"
    recorded = run_kolla_cli(kolla_install, setup, argv[1:], clean_ansible_env)
    args = recorded["argv"][1:]
    passed = [args[i + 1] for i, arg in enumerate(args) if arg == "-e"]
    files = [value[1:] for value in passed if value.startswith("@")]
    values = dict(value.split("=", 1) for value in passed if not value.startswith("@"))
    assert files == [str(f) for f in spec.extra_vars_files]
    assert files[-1] == str(config / "globals.d" / "50-tls.yml")
    assert values == {k: str(v) for k, v in spec.extra_vars.items()}
    assert values["CONFIG_DIR"] == str(config)
    assert ("node_custom_config" in values) == pin
