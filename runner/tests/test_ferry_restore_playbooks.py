"""Ferry's restore playbooks for the kolla-ansible backend: kolla 22's Ansible accepts them, they
target the database hosts of a multinode inventory, and run for real against local hosts (with a
stand-in container engine that records what it is asked to run)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from runner.backends import FERRY_ACTIONS, FERRY_PLAYBOOK_DIR
from runner.execute import StepSpec, run_step
from runner.kolla import KollaInstall
from runner.planner import BACKUP_PUSH, MARIADB_RESTORE
from runner.tests.lab_fixtures import Collector
from runner.tests.test_kolla_playbooks import list_hosts

pytestmark = pytest.mark.ansible

RESTORE_PLAYBOOKS = [FERRY_PLAYBOOK_DIR / FERRY_ACTIONS[a] for a in (BACKUP_PUSH, MARIADB_RESTORE)]
INVENTORY = "[control]\nctl1\nctl2\n\n[mariadb:children]\ncontrol\n\n[all:vars]\nansible_connection=local\n"
# Recording container engine: answers `inspect` as a stopped kolla mariadb container would, and
# writes every other command line, one JSON array per line, to $FERRY_FAKE_ENGINE_LOG.
FAKE_ENGINE = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
if args[0] == "inspect":
    print("quay.io/openstack.kolla/mariadb-server:2025.1-rocky-9" if "Image" in args[2]
          else os.environ.get("FERRY_FAKE_MARIADB_RUNNING", "false"))
    sys.exit(0)
with open(os.environ["FERRY_FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
"""


def kolla_env(install: KollaInstall, clean_ansible_env, workdir: Path) -> dict[str, str]:
    (workdir / "ansible.cfg").write_text("")
    return clean_ansible_env(
        ANSIBLE_CONFIG=str(workdir / "ansible.cfg"),
        # kolla's own modules and plugins, as if a restore playbook used them beside kolla's roles.
        ANSIBLE_LIBRARY=str(install.playbooks_dir / "library"),
        ANSIBLE_ACTION_PLUGINS=str(install.playbooks_dir / "action_plugins"),
        ANSIBLE_FILTER_PLUGINS=str(install.playbooks_dir / "filter_plugins"),
    )


@pytest.mark.parametrize("playbook", RESTORE_PLAYBOOKS, ids=lambda p: p.name)
def test_restore_playbooks_pass_kolla_ansibles_syntax_check(
    kolla_install: KollaInstall, clean_ansible_env, tmp_path: Path, playbook: Path
) -> None:
    command = [
        str(kolla_install.ansible_playbook),
        "--syntax-check",
        "-i",
        str(kolla_install.example_inventory("multinode")),
        str(playbook),
    ]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=300,
        env=kolla_env(kolla_install, clean_ansible_env, tmp_path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"playbook: {playbook}" in proc.stdout


@pytest.mark.parametrize("playbook", RESTORE_PLAYBOOKS, ids=lambda p: p.name)
def test_restore_playbooks_act_on_the_database_hosts_of_a_multinode_inventory(
    kolla_install: KollaInstall, clean_ansible_env, tmp_path: Path, playbook: Path
) -> None:
    base = [str(kolla_install.ansible_playbook), "-i", str(kolla_install.example_inventory("multinode"))]
    env = kolla_env(kolla_install, clean_ansible_env, tmp_path)
    outputs = {}
    for option in ("--list-hosts", "--list-tasks"):
        proc = subprocess.run(
            [*base, option, str(playbook)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outputs[option] = proc.stdout
    plays = list_hosts(outputs["--list-hosts"])
    databases = {"control01", "control02", "control03"}
    on_nodes = [hosts for _, hosts in plays.values() if hosts != {"localhost"}]
    assert on_nodes and all(hosts == databases for hosts in on_nodes)
    if playbook.name == "ferry-mariadb-restore.yml":
        tasks = outputs["--list-tasks"]
        order = [
            "Refusing to restore under a running MariaDB",
            "Extracting each backup with mbstream",
            "Preparing the full backup",
            "Applying each increment in order",
            "Emptying the datadir and copying the prepared backup back",
        ]
        assert [tasks.index(name) for name in order] == sorted(tasks.index(name) for name in order)


def chain_in_store(store: Path, names: list[str]) -> list[dict]:
    chain = []
    for number, name in enumerate(names, 1):
        (store / name).mkdir(parents=True)
        content = f"backup {number}".encode()
        (store / name / "data").write_bytes(content)
        chain.append(
            {
                "id": number,
                "kind": "incremental" if number > 1 else "full",
                "name": name,
                "sha256": hashlib.sha256(content).hexdigest(),
                "store": str(store / name),
            }
        )
    return chain


def run(tmp_path: Path, playbook: str, chain: list[dict], **extra) -> tuple[str, Collector]:
    events = Collector()
    result = run_step(
        StepSpec(
            playbook=FERRY_PLAYBOOK_DIR / playbook,
            inventory=INVENTORY,
            extra_vars={
                "ferry_backup_volume": str(tmp_path / "mariadb_backup"),
                "ferry_backup_become": False,
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                **extra,
            },
            unsafe_vars={"ferry_restore_chain": chain, "ferry_restore_node": "ctl1"},
            run_dir=tmp_path / "runs",
            env={"FERRY_FAKE_ENGINE_LOG": str(tmp_path / "engine.log")},
        ),
        sink=events,
        should_cancel=lambda: False,
    )
    return result.status, events


def test_push_puts_the_chain_in_the_volume_of_the_backups_node_checked_by_sha256(tmp_path: Path) -> None:
    (tmp_path / "mariadb_backup").mkdir()
    names = [
        "mysqlbackup-01-12-2026-1.qp.xbc.xbs.gz",
        "incremental-10-mysqlbackup-01-12-2026-2.qp.xbc.xbs.gz",
    ]
    chain = chain_in_store(tmp_path / "store", names)
    status, events = run(tmp_path, "ferry-backup-push.yml", chain)
    assert status == "successful", events.failure_messages()
    assert [(tmp_path / "mariadb_backup" / n).read_bytes() for n in names] == [b"backup 1", b"backup 2"]
    assert {e["event_data"]["host"] for e in events.of("runner_item_on_ok")} == {"localhost", "ctl1"}


def test_push_refuses_a_tampered_copy_in_ferrys_store_and_copies_nothing(tmp_path: Path) -> None:
    (tmp_path / "mariadb_backup").mkdir()
    chain = chain_in_store(tmp_path / "store", ["mysqlbackup-1.qp.xbc.xbs.gz"])
    Path(chain[0]["store"], "data").write_bytes(b"bit rot")
    status, events = run(tmp_path, "ferry-backup-push.yml", chain)
    assert status == "failed"
    message = " ".join(events.failure_messages()["localhost"])
    assert "Ferry's copy of backup #1 (mysqlbackup-1.qp.xbc.xbs.gz) has sha256" in message
    assert "damaged" in message and not list((tmp_path / "mariadb_backup").iterdir())


def test_push_refuses_a_name_that_is_not_a_plain_file_name(tmp_path: Path) -> None:
    (tmp_path / "mariadb_backup").mkdir()
    chain = chain_in_store(tmp_path / "store", ["mysqlbackup-1"])
    chain[0]["name"] = "../../etc/cron.d/x"
    status, events = run(tmp_path, "ferry-backup-push.yml", chain)
    assert status == "failed" and "not a plain file name" in events.failure_messages()["localhost"][0]


def what(script: str) -> str:
    """Which of kolla's restore commands a throwaway container's script runs."""
    for needle, name in (
        ("mbstream -x", "extract"),
        ("--incremental-dir", "increment"),
        ("--copy-back", "copy-back"),
        ("--prepare", "prepare"),
        ("rm -rf", "cleanup"),
    ):
        if needle in script:
            return name
    return script


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    path = tmp_path / "engine"
    path.write_text(FAKE_ENGINE)
    path.chmod(0o755)
    return path


def test_restore_extracts_prepares_each_increment_in_order_and_copies_back_in_throwaway_containers(
    tmp_path: Path, engine: Path
) -> None:
    # A name with shell syntax in it reaches the container as one argument, never as script text.
    names = ["mysqlbackup-1.qp.xbc.xbs.gz", "incremental-2.qp.xbc.xbs.gz", "incremental-3;touch pwned"]
    chain = chain_in_store(tmp_path / "store", names)
    status, events = run(tmp_path, "ferry-mariadb-restore.yml", chain, kolla_container_engine=str(engine))
    assert status == "successful", events.failure_messages()
    runs = [json.loads(line) for line in (tmp_path / "engine.log").read_text().splitlines()]
    prefix = [
        "run",
        "--rm",
        "--name",
        "ferry_dbrestore",
        "--volumes-from",
        "mariadb",
        "--volume",
        "mariadb_backup:/backup",
        "quay.io/openstack.kolla/mariadb-server:2025.1-rocky-9",
        "bash",
        "-c",
    ]
    assert all(argv[: len(prefix)] == prefix for argv in runs)
    scripts = [(what(argv[len(prefix)]), argv[len(prefix) + 2 :]) for argv in runs]
    assert scripts == [
        ("extract", [names[0], "/backup/restore/0"]),
        ("extract", [names[1], "/backup/restore/1"]),
        ("extract", [names[2], "/backup/restore/2"]),
        ("prepare", ["/backup/restore/0"]),
        ("increment", ["/backup/restore/0", "/backup/restore/1"]),
        ("increment", ["/backup/restore/0", "/backup/restore/2"]),
        ("copy-back", ["/backup/restore/0"]),
        ("cleanup", ["/backup/restore"]),
    ]
    assert 'gunzip -c -- "/backup/$1"' in runs[0][len(prefix)]
    assert "find /var/lib/mysql -mindepth 1 -delete" in runs[6][len(prefix)]
    assert not (tmp_path / "pwned").exists()


def test_restore_refuses_to_touch_the_datadir_while_mariadb_runs(tmp_path: Path, engine: Path) -> None:
    chain = chain_in_store(tmp_path / "store", ["mysqlbackup-1.qp.xbc.xbs.gz"])
    events = Collector()
    result = run_step(
        StepSpec(
            playbook=FERRY_PLAYBOOK_DIR / "ferry-mariadb-restore.yml",
            inventory=INVENTORY,
            extra_vars={
                "ferry_backup_become": False,
                "kolla_container_engine": str(engine),
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
            unsafe_vars={"ferry_restore_chain": chain, "ferry_restore_node": "ctl1"},
            run_dir=tmp_path / "runs",
            env={"FERRY_FAKE_ENGINE_LOG": str(tmp_path / "engine.log"), "FERRY_FAKE_MARIADB_RUNNING": "true"},
        ),
        sink=events,
        should_cancel=lambda: False,
    )
    assert result.status == "failed"
    assert "MariaDB runs on ctl1" in events.failure_messages()["ctl1"][0]
    assert not (tmp_path / "engine.log").exists()
