"""A kolla-ansible release's Ansible collections: checked, installed by its install-deps, or refused.

The real runs use the installed kolla-ansible 22.2.0 with a collections directory of the test's own,
and reach no network: every proxy variable names a local port that refuses connections, so
ansible-galaxy and git fail at once instead of waiting on galaxy.ansible.com or opendev.org.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runner import backends
from runner.backends import KollaAnsibleBackend, StepInput
from runner.execute import StepSpec, run_step
from runner.kolla import KollaInstall
from runner.planner import KOLLA_INSTALL
from runner.playbooks.action_plugins.ferry_kolla_collections import (
    Found,
    Missing,
    Wanted,
    git_collection_name,
    installed_collections,
    missing_collections,
    read_requirements,
    refusal,
)
from runner.tests.lab_fixtures import Collector
from runner.tests.test_backends import context

# What kolla-ansible 22.2.0's requirement files allow, one version each.
ALLOWED = {
    "ansible.netcommon": "8.1.0",
    "ansible.posix": "2.1.0",
    "ansible.utils": "6.0.0",
    "community.crypto": "3.0.3",
    "community.general": "11.4.0",
    "community.docker": "4.8.1",
    "containers.podman": "1.17.0",
    "openstack.kolla": "22.1.0",
}
KOLLA_GIT = "https://opendev.org/openstack/ansible-collection-kolla"


def fake_collection(root: Path, name: str, version: str, *, galaxy_yml: bool = False, **deps: str) -> None:
    """A collection directory with only its metadata: MANIFEST.json as ansible-galaxy installs it, or
    the galaxy.yml of a source tree."""
    namespace, short = name.split(".")
    directory = root / "ansible_collections" / namespace / short
    directory.mkdir(parents=True)
    info = {"namespace": namespace, "name": short, "version": version, "dependencies": deps}
    if galaxy_yml:
        (directory / "galaxy.yml").write_text(yaml.safe_dump(info))
    else:
        (directory / "MANIFEST.json").write_text(json.dumps({"collection_info": info, "format": 1}))


# --- the check, without Ansible running --------------------------------------------------------------


def test_kolla_22s_requirement_files_name_galaxy_collections_and_the_kolla_git_collection(kolla_install):
    wanted = read_requirements([str(p) for p in kolla_install.requirement_files])
    assert {w.name for w in wanted} == set(ALLOWED)
    kolla = next(w for w in wanted if w.name == "openstack.kolla")
    assert kolla.git and kolla.source == KOLLA_GIT and kolla.version == "stable/2026.1"
    crypto = next(w for w in wanted if w.name == "community.crypto")
    assert crypto.version == "<4" and crypto.source == "https://galaxy.ansible.com" and not crypto.git


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (KOLLA_GIT, "openstack.kolla"),
        ("git+https://opendev.org/openstack/ansible-collection-kolla.git,stable/2026.1", "openstack.kolla"),
        ("https://example.org/acme/ansible-collection-big-tools/", "acme.big_tools"),
        ("https://example.org/acme/tools", None),
    ],
)
def test_a_git_source_names_its_collection_by_the_repository_convention(url, name):
    assert git_collection_name(url) == name


def test_versions_outside_the_requirement_missing_dependencies_and_unknown_sources_are_missing(tmp_path):
    requirements = tmp_path / "requirements.yml"
    requirements.write_text(
        yaml.safe_dump(
            {
                "collections": [
                    {"name": "community.crypto", "version": "<4", "source": "https://galaxy.ansible.com"},
                    {"name": "ansible.netcommon", "version": "<9"},
                    {"name": "https://example.org/tools.tar.gz", "type": "url"},
                ]
            }
        )
    )
    fake_collection(tmp_path / "c", "community.crypto", "4.0.0")
    fake_collection(
        tmp_path / "c", "ansible.netcommon", "8.0.0", galaxy_yml=True, **{"ansible.utils": ">=6.0.0"}
    )
    missing = missing_collections(
        read_requirements([str(requirements)]), installed_collections(tmp_path / "c")
    )
    assert [m.describe() for m in missing] == [
        "community.crypto <4 (galaxy https://galaxy.ansible.com): found 4.0.0",
        "a collection (url https://example.org/tools.tar.gz): "
        "Ferry cannot tell which collection this source provides",
        "ansible.utils >=6.0.0 (galaxy https://galaxy.ansible.com, needed by ansible.netcommon): "
        "not installed",
    ]


def test_a_collection_without_a_version_does_not_meet_a_constraint():
    wanted = [Wanted("ansible.posix", "<3", "https://galaxy.ansible.com")]
    missing = missing_collections(wanted, {"ansible.posix": Found("ansible.posix", None)})
    assert missing[0].reason == "found without a version (no MANIFEST.json)"


def test_the_refusal_groups_collections_by_source_and_says_when_install_deps_timed_out():
    missing = [
        Missing(Wanted("community.crypto", "<4", "https://galaxy.ansible.com"), "found 4.0.0"),
        Missing(Wanted("openstack.kolla", "stable/2026.1", KOLLA_GIT, "git"), "not installed"),
        Missing(
            Wanted("ansible.utils", ">=6", "https://galaxy.ansible.com"), "not installed", "ansible.netcommon"
        ),
    ]
    text = refusal(
        missing,
        "/c",
        ["/v/bin/kolla-ansible", "install-deps"],
        {"ran": True, "timed_out": True, "timeout": 900.0},
    )
    assert text.startswith(
        "Ansible collections missing from /c: from galaxy https://galaxy.ansible.com: community.crypto <4 "
        "(found 4.0.0), ansible.utils >=6 (needed by ansible.netcommon); from git "
        f"{KOLLA_GIT} stable/2026.1: openstack.kolla. "
        "/v/bin/kolla-ansible install-deps did not finish in 900 s. "
        f"To fix it: on a machine that reaches https://galaxy.ansible.com, {KOLLA_GIT}, in an activated "
        "virtualenv of the same kolla-ansible release, run `ANSIBLE_COLLECTIONS_PATH=/c kolla-ansible "
        "install-deps` and copy /c to this worker"
    )


# --- the install step, run for real ----------------------------------------------------------------


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every proxy variable names a local port that is bound but not listening (so nothing else can
    take it): connections to it are refused at once. HOME is the test's, so no user configuration
    (git's included) applies."""
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", 0))
    proxy = f"http://127.0.0.1:{refusing.getsockname()[1]}"
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield
    refusing.close()


def install_step(tmp_path: Path, kolla_install: KollaInstall, monkeypatch: pytest.MonkeyPatch) -> StepSpec:
    """The kolla backend's install step for 2026.1, with a collections directory of the test's own."""
    isolated = dataclasses.replace(kolla_install, collections_dir=tmp_path / "collections")
    monkeypatch.setattr(backends, "ensure_kolla_ansible", lambda *args, **kwargs: isolated)
    ctx = context(tmp_path)
    step = StepInput(
        action=KOLLA_INSTALL, playbook=f"{KOLLA_INSTALL}.yml", extra_vars={"openstack_release": "2026.1"}
    )
    spec = KollaAnsibleBackend().step_spec(ctx, step, tmp_path / "run")
    spec.extra_vars["ferry_kolla_install_deps_timeout"] = 120
    spec.timeout = 180
    return spec


def task_result(sink: Collector, kind: str, task_prefix: str) -> dict:
    events = [e for e in sink.of(kind) if e["event_data"].get("task", "").startswith(task_prefix)]
    assert events, f"no {kind} event of a task named {task_prefix}…"
    return events[-1]["event_data"]["res"]


@pytest.mark.ansible
def test_install_deps_runs_and_the_step_refuses_naming_each_missing_collection_and_source(
    tmp_path, kolla_install, monkeypatch, no_network
):
    spec = install_step(tmp_path, kolla_install, monkeypatch)
    sink = Collector()
    result = run_step(spec, sink=sink, should_cancel=lambda: False)
    assert result.status == "failed", result.error
    checked = task_result(sink, "runner_on_ok", "Ansible collections of kolla-ansible 22.2.0")
    assert checked["install"]["ran"] and checked["install"]["rc"] != 0
    # install-deps installed into the step's collections directory, the first ANSIBLE_COLLECTIONS_PATH.
    assert (tmp_path / "collections" / "ansible_collections").is_dir()
    message = task_result(sink, "runner_on_failed", "Refuse to go on")["msg"]
    assert message.startswith(
        f"kolla-ansible 22.2.0: Ansible collections missing from {tmp_path / 'collections'}: "
    )
    assert (
        f"from git {KOLLA_GIT} stable/2026.1: openstack.kolla; from galaxy https://galaxy.ansible.com: "
        "ansible.netcommon <9, ansible.posix <3, ansible.utils <7, community.crypto <4, "
        "community.general <12, community.docker <5, containers.podman <2. "
    ) in message
    # install-deps' own error: git could not reach opendev.org (through the refusing proxy).
    assert (
        f"{kolla_install.bin / 'kolla-ansible'} install-deps exited 1: "
        f"fatal: unable to access '{KOLLA_GIT}/': Failed to connect to 127.0.0.1"
    ) in message
    assert f"[ERROR]: Failed to clone a Git repository from `{KOLLA_GIT}`. To fix it: " in message
    assert "copy" in message and "https_proxy" in message and "resume the job" in message
    report = task_result(sink, "runner_on_ok", "What the collections directory holds")["msg"]
    assert any("install-deps exited 1; its last lines:" in line for line in report)


@pytest.mark.ansible
def test_collections_already_present_pass_without_running_install_deps(
    tmp_path, kolla_install, monkeypatch, no_network
):
    spec = install_step(tmp_path, kolla_install, monkeypatch)
    for name, version in ALLOWED.items():
        fake_collection(tmp_path / "collections", name, version, galaxy_yml=name == "openstack.kolla")
    sink = Collector()
    result = run_step(spec, sink=sink, should_cancel=lambda: False)
    assert result.status == "successful", result.error
    checked = task_result(sink, "runner_on_ok", "Ansible collections of kolla-ansible 22.2.0")
    assert checked["install"] == {"ran": False} and not checked["changed"] and checked["missing"] == []
    assert sorted(checked["present"]) == sorted(f"{n} {v}" for n, v in ALLOWED.items())
    report = task_result(sink, "runner_on_ok", "What the collections directory holds")["msg"]
    assert "install-deps not run: every required collection was already present" in report


@pytest.mark.ansible
def test_a_kolla_step_runs_with_its_collections_directory_as_the_only_collections_path(
    tmp_path, kolla_install, monkeypatch
):
    spec = install_step(tmp_path, kolla_install, monkeypatch)
    # Whatever the worker's own environment says, the step's setting is the one that arrives.
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(tmp_path / "elsewhere"))
    probe = tmp_path / "probe.yml"
    probe.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"{{ [lookup('ansible.builtin.config', 'COLLECTIONS_PATHS'),"
        " lookup('ansible.builtin.config', 'COLLECTIONS_SCAN_SYS_PATH')] }}\"\n"
    )
    spec = dataclasses.replace(spec, playbook=probe, project_dir=tmp_path)
    sink = Collector()
    result = run_step(spec, sink=sink, should_cancel=lambda: False)
    assert result.status == "successful", result.error
    paths, scan_sys_path = sink.of("runner_on_ok")[-1]["event_data"]["res"]["msg"]
    assert paths == [str(tmp_path / "collections")] and scan_sys_path is False
