"""validate-config on the kolla-ansible backend fails on what oslo-config-validator found.

kolla's service-config-validate role only writes the validator's output as
``<service_config_validate_output_dir>/<host>/<project>/<service>/<file>.err`` on the controller;
runner/playbooks/ferry-validate-config.yml runs kolla's site.yml and then fails each host on those
files. kolla 22's Ansible accepts the wrapper with kolla's own site.yml, and a real run with a
stand-in for site.yml that writes reports as kolla's role does fails naming host, service and file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from apps.jobs.findings import _message
from runner.backends import VALIDATE_CONFIG_PLAYBOOK, KollaAnsibleBackend, StepInput
from runner.execute import StepSpec, run_step
from runner.kolla import KollaInstall
from runner.tests.lab_fixtures import Collector
from runner.tests.test_backends import context

pytestmark = pytest.mark.ansible


def test_the_wrapper_with_kollas_site_yml_passes_kolla_ansibles_syntax_check(
    kolla_install: KollaInstall, clean_ansible_env, tmp_path: Path
) -> None:
    ctx = context(tmp_path)
    ctx.var_dir = kolla_install.venv.parent.parent  # reuse the cached install
    step = StepInput("validate-config", "site.yml", extra_vars={"openstack_release": "2026.1"})
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    (tmp_path / "ansible.cfg").write_text("")
    command = [
        str(Path(spec.bin_dir) / "ansible-playbook"),
        "--syntax-check",
        "-i",
        str(spec.inventory),
        *[arg for path in spec.extra_vars_files for arg in ("-e", f"@{path}")],
        "-e",
        json.dumps(spec.extra_vars),
        str(spec.playbook),
    ]
    # From kolla's playbook directory, as ansible-runner runs the step: kolla's roles and plugins
    # resolve beside the imported site.yml, not beside Ferry's playbook.
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=spec.project_dir,
        env=clean_ansible_env(ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg")),
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"playbook: {VALIDATE_CONFIG_PLAYBOOK}" in proc.stdout


# A stand-in for kolla's site.yml with kolla_action=config_validate: its tasks are those of kolla's
# service-config-validate role that write the reports (become, delegated to localhost), fed with what
# oslo-config-validator would have said (standin_said: {host: [[project, service, file, stderr]]}).
STANDIN = """---
- name: Apply role service-config-validate
  hosts: all
  gather_facts: false
  vars:
    output_dir: "{{ service_config_validate_output_dir }}/{{ inventory_hostname }}/{{ item[:2] | join('/') }}"
  tasks:
    - name: Ensure log directory exists
      become: true
      ansible.builtin.file:
        path: "{{ output_dir }}"
        state: directory
        mode: "0755"
      loop: "{{ standin_said[inventory_hostname] | default([]) }}"
      delegate_to: localhost

    - name: Log configuration errors
      become: true
      ansible.builtin.copy:
        content: "{{ item[3] }}"
        dest: "{{ output_dir }}/{{ item[2] }}.err"
        mode: "0644"
      loop: "{{ standin_said[inventory_hostname] | default([]) }}"
      delegate_to: localhost
"""
# The controller (localhost) cannot become anyone: kolla's role would fail to write its reports there.
INVENTORY = (
    "[control]\nctl1\nctl2\n\n[compute]\ncmp1\n\n[deployment]\n"
    "localhost ansible_become_user=nobody ansible_become_exe=/bin/false\n\n"
    "[all:vars]\nansible_connection=local\nansible_python_interpreter={{ ansible_playbook_python }}\n"
)
NOVA_SAID = (
    'INFO:root:Ignoring missing option "project_name" from group "keystone_authtoken" because the group '
    "is known to have incomplete sample config data and thus cannot be validated properly.\n"
    "ERROR:root:DEFAULT/verbose not found\n"
    "ERROR:root:libvirt/cpu_mod not found\n"
)
KEYSTONE_SAID = "ERROR:root:foo/bar not found\n"


def run_validate_config(tmp_path: Path, said: dict[str, list[list[str]]]) -> tuple[str, Collector]:
    kolla = tmp_path / "kolla-ansible"
    kolla.mkdir()
    (kolla / "site.yml").write_text(STANDIN)
    # kolla keeps its defaults in group_vars beside site.yml: they must reach the imported plays.
    (kolla / "group_vars").mkdir()
    (kolla / "group_vars" / "all.yml").write_text(json.dumps({"standin_said": said}))
    reports = tmp_path / "run" / "config-validate"
    reports.mkdir(parents=True)
    sink = Collector()
    result = run_step(
        StepSpec(
            playbook=VALIDATE_CONFIG_PLAYBOOK,
            project_dir=kolla,
            inventory=INVENTORY,
            extra_vars={
                "ferry_kolla_playbook": str(kolla / "site.yml"),
                "kolla_action": "config_validate",
                "service_config_validate_output_dir": str(reports),
            },
            run_dir=tmp_path / "scratch",
        ),
        sink=sink,
        should_cancel=lambda: False,
    )
    return result.status, sink


def test_validate_config_passes_when_the_validator_found_nothing(tmp_path: Path) -> None:
    status, events = run_validate_config(tmp_path, {})
    assert status == "successful", events.failure_messages()


def test_validate_config_fails_each_host_naming_service_file_and_what_the_validator_said(
    tmp_path: Path,
) -> None:
    status, events = run_validate_config(
        tmp_path,
        {
            "ctl1": [
                ["nova", "nova-api", "nova.conf", NOVA_SAID],
                ["keystone", "keystone", "keystone.conf", KEYSTONE_SAID],
            ],
            "cmp1": [["nova", "nova-compute", "nova.conf", NOVA_SAID]],
        },
    )
    assert status == "failed"
    failed = {e["event_data"]["host"]: e for e in events.of("runner_on_failed")}
    assert sorted(failed) == ["cmp1", "ctl1"]
    # As the job page's findings table shows them.
    shown = {host: _message(e["event_data"]["res"], e["stdout"]) for host, e in failed.items()}
    assert shown["ctl1"] == (
        "oslo-config-validator found errors in 2 configuration file(s) on ctl1: keystone keystone.conf: "
        "ERROR:root:foo/bar not found | nova-api nova.conf: ERROR:root:DEFAULT/verbose not found; "
        "ERROR:root:libvirt/cpu_mod not found"
    )
    assert shown["cmp1"].startswith("oslo-config-validator found errors in 1 configuration file(s) on cmp1: ")
    assert "nova-compute nova.conf: ERROR:root:DEFAULT/verbose not found" in shown["cmp1"]
    assert "Ignoring missing option" not in shown["cmp1"]
