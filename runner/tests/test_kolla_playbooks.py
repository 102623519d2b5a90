"""kolla-ansible 22's own playbooks accept the commands build_invocation makes and the inventories
render_inventory writes, and target the hosts they should.

kolla-ansible 22 sets no ANSIBLE_CONFIG and no roles path: Ansible finds the roles and the
action, filter and module plugins beside the playbook, and kolla's filters import the
kolla_ansible package, which is why the virtualenv's own ansible-playbook must run them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from runner.inventory import Inventory, parse_inventory, render_inventory
from runner.kolla import DEFAULT_VERSION, KollaInstall, build_invocation, default_cache_dir, installed

pytestmark = pytest.mark.ansible

DATA = Path(__file__).resolve().parent / "data"
PLAY = re.compile(r"^  play #\d+ \((?P<pattern>[^)]*)\): (?P<name>.*?)\tTAGS: \[(?P<tags>[^\]]*)\]$")
HOST = re.compile(r"^      (\S+)$")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kolla-playbooks")
    config = root / "etc-kolla"
    config.mkdir()
    (config / "globals.yml").write_text(
        "kolla_base_distro: rocky\nenable_cells: true\nnetwork_interface: eth0\n"
    )
    (config / "passwords.yml").write_text("database_password: secret\n")
    # An empty configuration file, so no ansible.cfg of this machine or user changes the result.
    (root / "ansible.cfg").write_text("")
    return root


@pytest.fixture(scope="module")
def cells(workdir: Path) -> tuple[Inventory, Path]:
    inv = parse_inventory(DATA / "cells")
    return inv, render_inventory(inv, workdir / "inventory")


def runtime_groups(inv: Inventory, directory: Path, action: str) -> Path:
    """The groups site.yml's first plays make at run time, as a second inventory source.

    Plays target e.g. `nova-api:&enable_nova_True`, where enable_nova_True is made by a
    group_by task once facts and globals are known; --list-hosts runs no task, so without
    these groups every service play would list no host.
    """
    path = directory / "runtime-groups.ini"
    lines = ["[enable_nova_True]", *inv.hosts, f"[kolla_action_{action}:children]", "enable_nova_True"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_playbook(
    install: KollaInstall, argv: list[str], workdir: Path, clean_ansible_env, *options: str
) -> str:
    command = [argv[0], *options, *argv[1:]]
    # The collections path the kolla-ansible backend gives every step of this release.
    env = clean_ansible_env(ANSIBLE_CONFIG=str(workdir / "ansible.cfg"), **install.ansible_env())
    proc = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=workdir, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def list_hosts(output: str) -> dict[str, tuple[list[str], set[str]]]:
    """Play name -> (host pattern, hosts), from `ansible-playbook --list-hosts` output."""
    plays: dict[str, tuple[list[str], set[str]]] = {}
    current: set[str] | None = None
    for line in output.splitlines():
        play = PLAY.match(line)
        if play:
            current = set()
            plays.setdefault(play["name"], (play["pattern"].split(","), current))
        elif current is not None and (host := HOST.match(line)):
            current.add(host[1])
    return plays


def collection_installed(namespace: str, name: str) -> bool:
    """Whether the collections directory of the cached kolla-ansible (where the kolla-install step's
    install-deps puts them) holds NAMESPACE.NAME."""
    install = installed(DEFAULT_VERSION, base=default_cache_dir())
    return bool(install and (install.collections_dir / "ansible_collections" / namespace / name).is_dir())


def test_site_yml_syntax_check(kolla_install: KollaInstall, cells, workdir: Path, clean_ansible_env) -> None:
    _, inventory = cells
    invocation = build_invocation(
        "deploy", install=kolla_install, inventory=inventory, config_dir=workdir / "etc-kolla"
    )
    output = run_playbook(kolla_install, invocation.argv, workdir, clean_ansible_env, "--syntax-check")
    assert f"playbook: {kolla_install.playbooks_dir / 'site.yml'}" in output


BOOTSTRAP = pytest.param(
    "bootstrap-servers",
    marks=pytest.mark.skipif(
        not collection_installed("openstack", "kolla"),
        reason="kolla-host.yml uses the openstack.kolla collection, which `kolla-ansible install-deps` "
        "(the kolla-install step) fetches from opendev.org, not from PyPI",
    ),
)


@pytest.mark.parametrize(
    "action", [BOOTSTRAP, "mariadb-backup", "mariadb-recovery", "post-deploy", "destroy"]
)
def test_other_playbooks_syntax_check(
    kolla_install: KollaInstall, cells, workdir: Path, clean_ansible_env, action: str
) -> None:
    _, inventory = cells
    invocation = build_invocation(
        action, install=kolla_install, inventory=inventory, config_dir=workdir / "etc-kolla"
    )
    output = run_playbook(kolla_install, invocation.argv, workdir, clean_ansible_env, "--syntax-check")
    assert f"playbook: {invocation.playbook}" in output


def test_deploy_targets_the_cell_hosts(
    kolla_install: KollaInstall, cells, workdir: Path, clean_ansible_env
) -> None:
    inv, inventory = cells
    invocation = build_invocation(
        "deploy",
        install=kolla_install,
        inventory=[inventory, runtime_groups(inv, workdir, "deploy")],
        config_dir=workdir / "etc-kolla",
    )
    plays = list_hosts(
        run_playbook(kolla_install, invocation.argv, workdir, clean_ansible_env, "--list-hosts")
    )
    computes = {cell_host for cell in inv.cells() for cell_host in cell.computes}
    conductors = {"cell-control01", "cell-control02"}
    assert computes == {"compute01", "compute02", "compute03", "compute04"}
    # nova-cell runs on the computes, each cell's conductors and console proxies, and on the
    # nova-compute-ironic group, which kolla's inventories leave on the controllers.
    pattern, hosts = plays["Apply role nova-cell"]
    assert pattern == [
        "compute",
        "nova-compute-ironic",
        "nova-conductor",
        "nova-novncproxy",
        "nova-serialproxy",
        "nova-spicehtml5proxy",
        "&enable_nova_True",
    ]
    assert hosts == set().union(*(inv.members(group) for group in pattern[:-1]))
    assert computes | conductors <= hosts
    assert plays["Bootstrap nova cell databases"][1] == conductors
    assert plays["Apply role nova"][1] == {"control01", "control02", "control03"}
    assert plays["Gather facts for all hosts"][1] == set(inv.hosts)


def test_staged_upgrade_of_one_cell(
    kolla_install: KollaInstall, cells, workdir: Path, clean_ansible_env
) -> None:
    inv, inventory = cells
    invocation = build_invocation(
        "upgrade",
        install=kolla_install,
        inventory=[inventory, runtime_groups(inv, workdir, "upgrade")],
        config_dir=workdir / "etc-kolla",
        tags="nova-cell-upgrade",
        limit="cell1",
    )
    plays = list_hosts(
        run_playbook(kolla_install, invocation.argv, workdir, clean_ansible_env, "--list-hosts")
    )
    assert plays["Apply role nova-cell"][1] == {"compute01", "compute02", "cell-control01"}
    assert plays["Apply role nova"][1] == set()
