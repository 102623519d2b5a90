"""Backends: the same planned step becomes the lab's or kolla-ansible's exact invocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.backends import (
    VALIDATE_CONFIG_PLAYBOOK,
    CloudContext,
    ConfigFile,
    KollaAnsibleBackend,
    LabBackend,
    StepInput,
    split_extra_vars,
    write_config_files,
)
from runner.inventory import parse_inventory
from runner.kolla import build_invocation, cli_command

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


def test_kolla_validate_config_runs_kollas_site_yml_inside_ferrys_wrapper(tmp_path, kolla_install):
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent  # reuse the cached install
    run_dir = tmp_path / "run"
    (run_dir / "config-validate" / "ctl1").mkdir(parents=True)  # an earlier run's report
    step = StepInput("validate-config", "site.yml", extra_vars={"openstack_release": "2026.1"})
    spec = KollaAnsibleBackend().step_spec(ctx, step, run_dir)
    reports = run_dir / "config-validate"
    expected = build_invocation(
        "validate-config",
        install=kolla_install,
        inventory=run_dir / "inventory" / "inventory",
        config_dir=run_dir / "etc-kolla",
        extra_vars={"openstack_release": "2026.1", "service_config_validate_output_dir": str(reports)},
    )
    files, values = split_extra_vars(expected.extra_vars)
    assert Path(spec.playbook) == VALIDATE_CONFIG_PLAYBOOK and Path(spec.playbook).is_file()
    # kolla's playbook, variables and project dir, so that its roles and plugins resolve.
    assert spec.extra_vars == {**values, "ferry_kolla_playbook": str(expected.playbook)}
    assert [str(f) for f in spec.extra_vars_files] == files
    assert Path(spec.project_dir) == expected.playbook.parent and expected.playbook.name == "site.yml"
    assert values["kolla_action"] == "config_validate"
    # The reports go to the step's own directory, emptied for this run.
    assert values["service_config_validate_output_dir"] == str(reports)
    assert reports.is_dir() and not any(reports.iterdir())


def test_vars_file_after_values_is_refused():
    with pytest.raises(ValueError, match="precedence"):
        split_extra_vars(("a=1", "@late.yml"))


KEYRING = b"[client.nova]\n\tkey = AQBxKeyring==\n"
CLOUD_FILES = [
    ConfigFile("config", "nova.conf", b"[DEFAULT]\ndebug = True\n"),
    ConfigFile("config", "nova/nova-compute.conf", b"[libvirt]\ncpu_mode = host-passthrough\n"),
    ConfigFile("config", "nova/ceph.client.nova.keyring", KEYRING, secret=True),
    ConfigFile("config", "glance/ceph.conf", b"[global]\nfsid = 1\n"),
    ConfigFile("certificates", "haproxy.pem", b"-----BEGIN PRIVATE KEY-----\n\x00\xff", secret=True),
    ConfigFile("certificates", "ca/root.crt", b"-----BEGIN CERTIFICATE-----\n"),
    ConfigFile("globals.d", "50-tls.yml", b"kolla_enable_tls_external: 'yes'\n"),
]


def kolla_step(tmp_path, kolla_install, files, **globals_):
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent  # reuse the cached install
    ctx.files = files
    ctx.globals.update(globals_)
    step = StepInput(action="reconfigure", playbook="site.yml", extra_vars={"openstack_release": "2026.1"})
    return KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run"), tmp_path / "run" / "etc-kolla"


def test_a_kolla_run_dir_holds_the_clouds_files_byte_for_byte(tmp_path, kolla_install):
    spec, config = kolla_step(tmp_path, kolla_install, CLOUD_FILES)
    for item in CLOUD_FILES:
        written = config / item.area / item.path
        assert written.read_bytes() == item.content, item.path
        assert written.stat().st_mode & 0o777 == (0o600 if item.secret else 0o644), item.path
    # kolla lists globals.d itself, after passwords.yml; config/ and certificates/ follow CONFIG_DIR.
    assert [str(f) for f in spec.extra_vars_files] == [
        str(config / "globals.yml"),
        str(config / "passwords.yml"),
        str(config / "globals.d" / "50-tls.yml"),
    ]
    assert spec.extra_vars["CONFIG_DIR"] == str(config)
    assert "node_custom_config" not in spec.extra_vars and "kolla_certificates_dir" not in spec.extra_vars


def test_globals_naming_other_config_dirs_are_pointed_at_the_run_dir(tmp_path, kolla_install):
    spec, config = kolla_step(tmp_path, kolla_install, CLOUD_FILES, node_custom_config="/etc/kolla/config")
    assert spec.extra_vars["node_custom_config"] == str(config / "config")
    assert spec.extra_vars["kolla_certificates_dir"] == str(config / "certificates")


def test_files_that_would_leave_the_config_dir_are_refused(tmp_path):
    for bad in ("../escape", "/abs", "a//b", "a/./b"):
        with pytest.raises(ValueError, match="unsafe"):
            write_config_files(tmp_path, [ConfigFile("config", bad, b"x")])
    with pytest.raises(ValueError, match="area"):
        write_config_files(tmp_path, [ConfigFile("passwords", "x", b"x")])
    assert not any(tmp_path.iterdir())


def test_the_cli_command_names_the_config_dir():
    assert cli_command("deploy") == "kolla-ansible deploy -i /etc/kolla/multinode"
    command = cli_command("deploy", config_dir="/var/ferry/runs/job-1/etc-kolla", inventory="/x/inventory")
    assert command == "kolla-ansible deploy -i /x/inventory --configdir /var/ferry/runs/job-1/etc-kolla"


def test_the_lab_gets_globals_d_and_ini_overrides_from_the_clouds_files(tmp_path):
    ctx = context(tmp_path)
    ctx.files = CLOUD_FILES
    step = StepInput(action="reconfigure", playbook="site.yml", extra_vars={})
    spec = LabBackend().step_spec(ctx, step, tmp_path / "run")
    assert spec.extra_vars["kolla_enable_tls_external"] == "yes"
    assert spec.extra_vars["lab_config_overrides"] == {
        "nova": {"DEFAULT": {"debug": "True"}},
        "nova-compute": {"libvirt": {"cpu_mode": "host-passthrough"}},
    }


def test_both_backends_run_ferrys_validate_playbook(tmp_path, kolla_install):
    from runner.backends import FERRY_PLAYBOOK_DIR
    from runner.planner import VALIDATE

    step = StepInput(
        action=VALIDATE, playbook="ferry-validate.yml", extra_vars={"openstack_release": "2026.1"}
    )
    lab_spec = LabBackend().step_spec(context(tmp_path), step, tmp_path / "lab-run")
    assert Path(lab_spec.playbook) == Path(__file__).parents[1] / "lab" / "ferry-validate.yml"
    assert "kolla_action" not in lab_spec.extra_vars
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    assert Path(spec.playbook) == FERRY_PLAYBOOK_DIR / "ferry-validate.yml"
    # It queries MariaDB: passwords.yml comes as a vars file, never as a value on the command line.
    assert [Path(f).name for f in spec.extra_vars_files] == ["globals.yml", "passwords.yml"]
    assert "database_password" not in spec.extra_vars and spec.extra_vars["ferry_base_distro_version"] == "10"


@pytest.mark.parametrize(
    ("action", "files"),
    [
        ("ferry-kolla-install", ["globals.yml"]),
        ("ferry-migrate", ["globals.yml"]),
    ],
)
def test_both_backends_have_a_playbook_for_each_hop_preparation(tmp_path, kolla_install, action, files):
    from runner.backends import FERRY_PLAYBOOK_DIR

    step = StepInput(action=action, playbook=f"{action}.yml", extra_vars={"openstack_release": "2026.1"})
    lab_spec = LabBackend().step_spec(context(tmp_path), step, tmp_path / "lab-run")
    assert Path(lab_spec.playbook) == Path(__file__).parents[1] / "lab" / f"{action}.yml"
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    assert Path(spec.playbook) == FERRY_PLAYBOOK_DIR / f"{action}.yml"
    assert [Path(f).name for f in spec.extra_vars_files] == files
    if action == "ferry-kolla-install":
        assert spec.extra_vars["ferry_kolla_ansible_version"] == kolla_install.version


@pytest.mark.parametrize(
    ("action", "playbook"),
    [
        ("upgrade", "site.yml"),
        ("validate-config", "site.yml"),
        ("ferry-validate", "ferry-validate.yml"),
        ("ferry-kolla-install", "ferry-kolla-install.yml"),
    ],
)
def test_every_kolla_step_sees_only_its_releases_collections(tmp_path, kolla_install, action, playbook):
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent
    step = StepInput(action=action, playbook=playbook, extra_vars={"openstack_release": "2026.1"})
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    collections = kolla_install.venv / "share" / "ferry-collections"
    assert spec.env == {
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
    }
    # Kolla's playbooks and Ferry's own run with the release's ansible-playbook, which install-deps fed.
    assert Path(spec.bin_dir) == kolla_install.bin


def test_the_kolla_install_step_gets_the_collections_dir_requirements_and_install_deps(
    tmp_path, kolla_install
):
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent
    step = StepInput(
        action="ferry-kolla-install",
        playbook="ferry-kolla-install.yml",
        extra_vars={"openstack_release": "2026.1"},
    )
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    share = kolla_install.share_dir
    assert spec.extra_vars["ferry_kolla_collections_path"] == spec.env["ANSIBLE_COLLECTIONS_PATH"]
    assert spec.extra_vars["ferry_kolla_requirements"] == [
        str(share / "requirements.yml"),
        str(share / "requirements-core.yml"),
    ]
    assert spec.extra_vars["ferry_kolla_install_deps"] == [
        str(kolla_install.bin / "kolla-ansible"),
        "install-deps",
    ]
