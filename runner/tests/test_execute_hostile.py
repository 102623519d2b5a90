"""What a person typed reaches Ansible as data, and Ferry's own secrets do not reach it at all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.execute import ansible_environment, extra_vars_text, run_step
from runner.tests.lab_fixtures import Collector
from runner.tests.test_execute import never, playbook, spec

pytestmark = pytest.mark.ansible

SHOW_VARS = """\
    - name: Show what the variables hold
      ansible.builtin.debug:
        msg: "label={{ label }} nested={{ nested['deep'][0] }} release={{ openstack_release }}"
      run_once: true
    - name: A trusted value still compares as text
      ansible.builtin.assert:
        that: openstack_release == "2025.1"
      run_once: true
"""
SHOW_ENV = """\
    - name: Show Ferry's environment as the playbook sees it
      ansible.builtin.debug:
        msg: "db=[{{ lookup('env', 'DATABASE_URL') }}] key=[{{ lookup('env', 'FERRY_SECRETS_KEY') }}]"
      run_once: true
"""


def test_a_template_a_person_typed_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    template = "{{ lookup('pipe', 'touch " + str(marker) + "; echo 1') }}"
    sink = Collector()
    result = run_step(
        spec(
            tmp_path,
            playbook(tmp_path, SHOW_VARS),
            extra_vars={"openstack_release": "2025.1"},
            unsafe_vars={"label": template, "nested": {"deep": [template]}},
        ),
        sink=sink,
        should_cancel=never,
    )
    assert result.status == "successful", [e.get("stdout") for e in sink.events][-5:]
    assert not marker.exists()
    shown = next(e for e in sink.events if e["event"] == "runner_on_ok" and "label=" in e.get("stdout", ""))
    assert f"label={template}" in shown["stdout"] and f"nested={template}" in shown["stdout"]
    assert "release=2025.1" in shown["stdout"]


def test_ferrys_connection_strings_and_keys_never_reach_a_playbook(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://ferry:dbpass@db/ferry")
    monkeypatch.setenv("FERRY_SECRETS_KEY", "the-secrets-key")
    monkeypatch.setenv("SECRET_KEY", "the-django-key")
    sink = Collector()
    result = run_step(
        spec(tmp_path, playbook(tmp_path, SHOW_ENV)),
        sink=sink,
        should_cancel=never,
    )
    assert result.status == "successful"
    shown = next(e for e in sink.events if "db=[" in e.get("stdout", ""))
    assert "db=[] key=[]" in shown["stdout"]
    assert not any("dbpass" in str(e) or "the-secrets-key" in str(e) for e in sink.events)


def test_the_environment_keeps_what_ansible_needs(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://x")
    monkeypatch.setenv("REDIS_URL", "redis://x")
    monkeypatch.setenv("FERRY_SECRETS_KEY", "k")
    monkeypatch.setenv("ANSIBLE_FORKS", "7")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    import os

    env = ansible_environment(
        {**os.environ, "PATH": "/bin", "RUNNER_OMIT_EVENTS": "False"}, keep={"PATH": "/bin"}
    )
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env and "FERRY_SECRETS_KEY" not in env
    assert env["ANSIBLE_FORKS"] == "7" and env["LC_ALL"] == "C.UTF-8" and env["PATH"] == "/bin"
    assert env["HOME"] == os.environ["HOME"] and env["RUNNER_OMIT_EVENTS"] == "False"


def test_unsafe_values_are_tagged_at_every_depth_and_trusted_ones_are_not() -> None:
    text = extra_vars_text(
        {"openstack_release": "2025.1", "when": "yes"}, {"label": "{{ x }}", "deep": {"a": ["{{ y }}", 3]}}
    )
    assert (
        "!unsafe '{{ x }}'" in text and "!unsafe '{{ y }}'" in text and "openstack_release: '2025.1'" in text
    )
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node)))
    loaded = yaml.load(text, Loader=loader)
    assert loaded["when"] == "yes" and loaded["deep"] == {"a": [("unsafe", "{{ y }}"), 3]}
