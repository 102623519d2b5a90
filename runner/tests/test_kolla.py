"""Release series -> kolla-ansible versions, installs, and build_invocation on its own.

test_kolla_cli.py checks build_invocation against the real kolla-ansible CLI; these tests pin
down the details that do not need it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from runner import kolla
from runner.kolla import (
    ACTIONS,
    DEFAULT_VERSION,
    KOLLA_MAJOR_BY_SERIES,
    KollaError,
    KollaInstall,
    build_invocation,
    cli_command,
    default_base_distro,
    ensure_kolla_ansible,
    host_os_for,
    installed,
    kolla_extra_vars,
    kolla_major_for,
    kolla_openstack_release,
    kolla_version_for,
)

PLAYBOOKS = ("site", "kolla-host", "post-deploy", "mariadb-backup", "mariadb-recovery", "destroy")


def test_series_map_to_kolla_majors() -> None:
    # Spot checks: apps/catalog/tests/test_catalog.py checks the shipped catalog agrees with the table.
    assert kolla_major_for("2017.1") == 4  # Ocata: the first kolla-ansible release
    assert kolla_major_for("2023.1") == 16
    assert kolla_major_for("2026.1") == 22
    assert kolla_major_for("2027.1") == 24
    majors = list(KOLLA_MAJOR_BY_SERIES.values())
    assert majors == list(range(4, 4 + len(majors)))  # one major per series from Ocata on, none skipped


def test_series_before_ocata_have_no_kolla_ansible() -> None:
    with pytest.raises(KollaError, match="predates kolla-ansible"):
        kolla_major_for("2016.2")
    assert default_base_distro("2016.2") is None and host_os_for("2016.2") is None


def test_openstack_release_is_the_name_up_to_zed_and_the_series_after() -> None:
    assert kolla_openstack_release("2019.2") == "train"
    assert kolla_openstack_release("2022.2") == "zed"
    assert kolla_openstack_release("2023.1") == "2023.1"
    assert kolla_extra_vars({"openstack_release": "2022.1", "x": 1}) == {"openstack_release": "yoga", "x": 1}
    assert "openstack_release=zed" in cli_command("deploy", extra_vars={"openstack_release": "2022.2"})


def test_host_os_and_image_base_follow_kolla_ansibles_prechecks() -> None:
    assert host_os_for("2025.1") == {
        "CentOS": ("9", "10"),
        "Debian": ("bookworm",),
        "Rocky": ("9", "10"),
        "Ubuntu": ("noble",),
    }
    assert "trixie" in host_os_for("2026.1")["Debian"]
    assert host_os_for("2019.2") is None  # kolla-ansible 9 did not check the host OS
    assert default_base_distro("2022.1") == "centos" and default_base_distro("2022.2") == "rocky"


def test_kolla_version_for_installable_series() -> None:
    assert kolla_version_for("2026.1") == "22.2.0"


@pytest.mark.parametrize(
    ("series", "words"),
    [
        ("2026.2", "kolla-ansible 23.x needs Python 3.12"),
        ("2025.2", "kolla-ansible 21.x builds its ansible-playbook command differently"),
        ("2023.1", "needs kolla-ansible 16.x"),
        ("2027.1", "kolla-ansible 24.x is not released yet"),
        ("2028.1", "unknown release series '2028.1'"),
        ("zed", "unknown release series"),
    ],
)
def test_kolla_version_for_refuses_what_cannot_run_here(series: str, words: str) -> None:
    with pytest.raises(KollaError, match=words.replace(".", r"\.")):
        kolla_version_for(series)


@pytest.fixture
def fake_install(tmp_path: Path) -> KollaInstall:
    share = tmp_path / "venv" / "share" / "kolla-ansible"
    (share / "ansible").mkdir(parents=True)
    for name in PLAYBOOKS:
        (share / "ansible" / f"{name}.yml").write_text("---\n")
    venv = tmp_path / "venv"
    return KollaInstall("22.2.0", venv, venv / "bin", share, share / "ansible")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = tmp_path / "etc-kolla"
    (config / "globals.d" / "nested.yml").mkdir(parents=True)
    for name in ("globals.yml", "passwords.yml", "globals.d/b.yml", "globals.d/a.json", "globals.d/C.yaml"):
        (config / name).write_text("{}\n")
    (config / "globals.d" / "notes.txt").write_text("not a vars file\n")
    return config


@pytest.mark.parametrize(
    ("action", "options", "playbook", "action_vars"),
    [
        ("prechecks", {}, "site", ["kolla_action=precheck"]),
        ("prechecks", {"use_test_images": True}, "site", ["kolla_action=precheck", "kolla_test_images=yes"]),
        ("pull", {}, "site", ["kolla_action=pull"]),
        ("deploy", {}, "site", ["kolla_action=deploy"]),
        ("reconfigure", {}, "site", ["kolla_action=reconfigure", "kolla_serial=0"]),
        ("upgrade", {}, "site", ["kolla_action=upgrade", "kolla_serial=0"]),
        ("check", {}, "site", ["kolla_action=check"]),
        ("stop", {}, "site", ["kolla_action=stop", "kolla_action_stop_ignore_missing=no"]),
        ("genconfig", {}, "site", ["kolla_action=config"]),
        ("validate-config", {}, "site", ["kolla_action=config_validate"]),
        (
            "bootstrap-servers",
            {},
            "kolla-host",
            ["kolla_action=bootstrap-servers", "ansible_python_interpreter=auto_silent"],
        ),
        ("post-deploy", {}, "post-deploy", ["kolla_action=post-deploy"]),
        ("mariadb-backup", {}, "mariadb-backup", ["kolla_action=backup", "mariadb_backup_type=full"]),
        (
            "mariadb-backup",
            {"backup_type": "incremental"},
            "mariadb-backup",
            ["kolla_action=backup", "mariadb_backup_type=incremental"],
        ),
        ("mariadb-recovery", {}, "mariadb-recovery", ["kolla_action=deploy"]),
        (
            "destroy",
            {"include_images": True},
            "destroy",
            ["kolla_action=destroy", "destroy_include_dev=no", "destroy_include_images=yes"],
        ),
    ],
)
def test_each_action(fake_install, config, action, options, playbook, action_vars) -> None:
    invocation = build_invocation(
        action, install=fake_install, inventory=config / "inventory", config_dir=config, **options
    )
    assert invocation.playbook == fake_install.playbooks_dir / f"{playbook}.yml"
    assert invocation.executable == fake_install.bin / "ansible-playbook"
    globals_d = [f"@{config}/globals.d/{name}" for name in ("C.yaml", "a.json", "b.yml")]
    assert list(invocation.extra_vars) == [
        f"@{config}/globals.yml",
        f"@{config}/passwords.yml",
        *globals_d,
        *action_vars,
        f"CONFIG_DIR={config}",
    ]
    assert invocation.argv[-1] == str(invocation.playbook)


def test_every_action_is_covered() -> None:
    assert set(ACTIONS) == {
        "prechecks",
        "pull",
        "deploy",
        "reconfigure",
        "upgrade",
        "check",
        "stop",
        "genconfig",
        "validate-config",
        "bootstrap-servers",
        "post-deploy",
        "mariadb-backup",
        "mariadb-recovery",
        "rabbitmq-reset-state",
        "destroy",
    }


def test_options_limit_tags_and_extra_vars(fake_install, config) -> None:
    invocation = build_invocation(
        "upgrade",
        install=fake_install,
        inventory=config / "inventory",
        config_dir=config,
        extra_vars={"nova_cell": "cell1", "spaced": "a b", "numbers": [1, 2], "kolla_action": "ignored"},
        limit="cell1",
        tags="nova-cell-upgrade",
        skip_tags="nova-reload",
        verbosity=2,
        check=True,
    )
    args = invocation.args
    assert args[:3] == ["-vv", "--inventory", str(config / "inventory")]
    assert args[-8:] == [
        "--check",
        "--limit",
        "cell1",
        "--skip-tags",
        "nova-reload",
        "--tags",
        "nova-cell-upgrade",
        str(fake_install.playbooks_dir / "site.yml"),
    ]
    values = list(invocation.extra_vars)
    user = values.index("nova_cell=cell1")
    assert values[user : user + 4] == [
        "nova_cell=cell1",
        json.dumps({"spaced": "a b"}),
        json.dumps({"numbers": [1, 2]}),
        "kolla_action=ignored",
    ]
    # The action's own variables come later, so they win over the same names given by hand.
    assert values.index("kolla_action=upgrade") > values.index("kolla_action=ignored")


def test_an_interpreter_given_by_hand_wins_for_bootstrap_servers(fake_install, config) -> None:
    invocation = build_invocation(
        "bootstrap-servers",
        install=fake_install,
        inventory="inv",
        config_dir=config,
        extra_vars={"ansible_python_interpreter": "/usr/bin/python3"},
    )
    assert "ansible_python_interpreter=auto_silent" not in invocation.extra_vars
    assert "ansible_python_interpreter=/usr/bin/python3" in invocation.extra_vars


@pytest.mark.parametrize(
    ("action", "options", "words"),
    [
        ("deploy", {"backup_type": "full"}, "backup_type applies to mariadb-backup, not to deploy"),
        ("mariadb-backup", {"backup_type": "differential"}, "backup_type must be 'full' or 'incremental'"),
        ("deploy", {"ignore_missing": True}, "ignore_missing applies to stop"),
        ("stop", {"include_dev": True}, "include_dev applies to destroy"),
        ("upgrade", {"use_test_images": True}, "use_test_images applies to prechecks"),
        ("rollback", {}, "unknown kolla-ansible action 'rollback'"),
    ],
)
def test_bad_options(fake_install, config, action, options, words) -> None:
    with pytest.raises(ValueError, match=words):
        build_invocation(action, install=fake_install, inventory="inv", config_dir=config, **options)


def test_only_the_kolla_22_cli_is_reproduced(fake_install, config) -> None:
    older = dataclasses.replace(fake_install, version="21.3.0")
    with pytest.raises(KollaError, match=re.escape("reproduces the kolla-ansible 22 CLI, not 21.3.0")):
        build_invocation("deploy", install=older, inventory="inv", config_dir=config)


def test_ensure_is_idempotent_and_fast_once_installed(kolla_install) -> None:
    marker = kolla_install.venv / ".ferry-installed"
    before = marker.stat().st_mtime_ns
    started = time.perf_counter()
    again = ensure_kolla_ansible(kolla_install.version, base=kolla_install.venv.parent)
    assert time.perf_counter() - started < 0.5
    assert again == kolla_install
    assert marker.stat().st_mtime_ns == before
    assert (kolla_install.playbooks_dir / "inventory" / "multinode").is_file()
    assert (kolla_install.playbooks_dir / "site.yml").is_file()
    assert kolla_install.share_dir == Path(os.path.realpath(kolla_install.venv)) / "share" / "kolla-ansible"
    version = subprocess.run([str(kolla_install.kolla_ansible), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == "kolla-ansible 22.2.0"


def fake_install_into(calls: list[str], *, seconds: float = 0.0):
    """A stand-in for _create_venv that lays out what kolla-ansible's install leaves, slowly."""

    def create(venv: Path, version: str, python: str) -> None:
        calls.append(version)
        time.sleep(seconds)  # long enough for a second caller to arrive while this one holds the lock
        playbooks = venv / "share" / "kolla-ansible" / "ansible"
        playbooks.mkdir(parents=True)
        (playbooks / "site.yml").write_text("---\n")
        (venv / "bin").mkdir()
        (venv / "bin" / "kolla-ansible").write_text("#!/bin/sh\n")

    return create


def test_concurrent_installs_share_one_venv_and_redo_an_interrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An earlier install that died half-way: a venv directory and no marker.
    leftover = tmp_path / "kolla-ansible-22.2.0"
    leftover.mkdir()
    (leftover / "half-written").write_text("")
    calls: list[str] = []
    monkeypatch.setattr(kolla, "_create_venv", fake_install_into(calls, seconds=0.5))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        installs = list(pool.map(lambda _: ensure_kolla_ansible("22.2.0", base=tmp_path), range(2)))
    assert calls == ["22.2.0"]  # the second caller waited for the lock, then found the install done
    assert [i.venv for i in installs] == [leftover, leftover]
    assert not (leftover / "half-written").exists()
    assert (leftover / ".ferry-installed").read_text() == "22.2.0\n"
    assert installed("22.2.0", base=tmp_path) == installs[0]


def test_a_failed_install_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(venv: Path, version: str, python: str) -> None:
        venv.mkdir()
        raise kolla.KollaInstallError("no network")

    monkeypatch.setattr(kolla, "_create_venv", broken)
    with pytest.raises(kolla.KollaInstallError, match="no network"):
        ensure_kolla_ansible("22.2.0", base=tmp_path)
    assert not (tmp_path / "kolla-ansible-22.2.0").exists()
    assert installed("22.2.0", base=tmp_path) is None


def test_pip_installs_when_uv_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(kolla, "_find_uv", lambda: None)
    monkeypatch.setattr(kolla, "_run", ran.append)
    venv = tmp_path / "venv"
    kolla._create_venv(venv, "22.2.0", "/usr/bin/python3.11")
    assert ran[0] == ["/usr/bin/python3.11", "-m", "venv", str(venv)]
    assert ran[1][:4] == [str(venv / "bin" / "python"), "-m", "pip", "install"]
    assert ran[1][-1] == "kolla-ansible==22.2.0"


def test_make_kolla_fills_the_cache_the_tests_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(kolla, "_create_venv", fake_install_into(calls))
    monkeypatch.setenv("FERRY_VAR_DIR", str(tmp_path))
    assert kolla.main([]) == 0
    assert kolla.main([]) == 0
    assert calls == [DEFAULT_VERSION]
    assert installed(DEFAULT_VERSION, base=tmp_path / "kolla") is not None
