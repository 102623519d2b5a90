"""Ferry's validation and archive playbooks for the kolla-ansible backend: kolla 22's Ansible accepts
them and they target the hosts of kolla's multinode inventory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner.backends import FERRY_ACTIONS, FERRY_PLAYBOOK_DIR
from runner.kolla import KollaInstall
from runner.planner import ARCHIVE, VALIDATE
from runner.tests.test_ferry_restore_playbooks import kolla_env

pytestmark = pytest.mark.ansible

PLAYBOOKS = [FERRY_PLAYBOOK_DIR / FERRY_ACTIONS[a] for a in (VALIDATE, ARCHIVE)]


def ansible_playbook(install: KollaInstall, env: dict[str, str], cwd: Path, *args: str) -> str:
    command = [str(install.ansible_playbook), "-i", str(install.example_inventory("multinode")), *args]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_validate_playbooks_pass_kolla_ansibles_syntax_check_and_target_the_cloud(
    kolla_install: KollaInstall, clean_ansible_env, tmp_path: Path, playbook: Path
) -> None:
    env = kolla_env(kolla_install, clean_ansible_env, tmp_path)
    assert f"playbook: {playbook}" in ansible_playbook(
        kolla_install, env, tmp_path, "--syntax-check", str(playbook)
    )
    hosts = ansible_playbook(kolla_install, env, tmp_path, "--list-hosts", str(playbook))
    if playbook.name == "ferry-validate.yml":
        # Every host of the cloud: disk and certificates are checked everywhere.
        assert all(h in hosts for h in ("control01", "network01", "compute01", "storage01"))
    else:
        assert "control01" in hosts and "compute01" not in hosts


# Stand-in container engine: answers as a healthy two-node cloud at 2025.1 would, or as
# $FERRY_FAKE_FAULT says (galera: a desynced node; compute: an old nova-compute).
FAKE_ENGINE = """#!/usr/bin/env python3
import json, os, sys
args, fault = sys.argv[1:], os.environ.get("FERRY_FAKE_FAULT", "")
if args[0] == "run":
    print("Check: Cells v2\\nResult: Success")
elif args[0] == "inspect":
    release = "2024.2" if fault == "compute" else "2025.1"
    print("quay.io/openstack.kolla/nova-compute:" + release + "-rocky-9")
elif "rabbitmqctl" in args:
    print(json.dumps({"running_nodes": ["rabbit@ctl1", "rabbit@ctl2"], "partitions": {}}))
elif "SHOW GLOBAL STATUS" in " ".join(args):
    state = "Donor/Desynced" if fault == "galera" else "Synced"
    print("wsrep_cluster_size\\t2\\nwsrep_local_state_comment\\t" + state)
"""
INVENTORY = (
    "[control]\nctl1\nctl2\n\n[compute]\ncmp1\n\n[baremetal:children]\ncontrol\ncompute\n\n"
    "[mariadb:children]\ncontrol\n\n[rabbitmq:children]\ncontrol\n\n[nova-api:children]\ncontrol\n\n"
    "[all:vars]\nansible_connection=local\n"
)


def test_validate_playbook_runs_every_check_and_reports_each_finding(tmp_path: Path) -> None:
    from runner.execute import StepSpec, run_step
    from runner.tests.lab_fixtures import Collector

    engine = tmp_path / "engine"
    engine.write_text(FAKE_ENGINE)
    engine.chmod(0o755)

    def run(fault: str) -> tuple[str, Collector]:
        sink = Collector()
        result = run_step(
            StepSpec(
                playbook=FERRY_PLAYBOOK_DIR / "ferry-validate.yml",
                inventory=INVENTORY,
                extra_vars={
                    "kolla_container_engine": str(engine),
                    "openstack_release": "2025.2",
                    "ferry_base_distro": "rocky",
                    "ferry_base_distro_version": "10",
                    "database_password": "secret",
                    "ferry_validate_become": False,
                    "ferry_validate_image_dir": str(tmp_path),
                    "ferry_validate_min_free_gb": 0,
                    "ferry_validate_compute_releases": ["2025.1", "2025.2"],
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                },
                env={"FERRY_FAKE_FAULT": fault},
                run_dir=tmp_path / f"runs-{fault}",
            ),
            sink=sink,
            should_cancel=lambda: False,
        )
        return result.status, sink

    status, events = run("")
    assert status == "successful", events.failure_messages()
    status, events = run("galera")
    found = events.failure_messages()
    assert status == "failed" and sorted(found) == ["ctl1", "ctl2"]
    assert "Galera on ctl1: wsrep_cluster_size 2 of 2, state Donor/Desynced" in " ".join(found["ctl1"])
    status, events = run("compute")
    assert "nova-compute on cmp1 runs 2024.2" in " ".join(events.failure_messages()["cmp1"])
