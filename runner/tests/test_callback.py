"""Ferry's awx_display: the events ansible-runner's own callback gives, without a file per event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
from ansible_runner.config.runner import RunnerConfig
from ansible_runner.utils import OutputEventFilter, get_callback_dir

from runner.execute import CALLBACK_DIR, EVENT_END, StepRunner, StepSpec, callback_env, run_step
from runner.tests.lab_fixtures import Collector

INVENTORY = "h1\nh2\n\n[all:vars]\nansible_connection=local\n"
# One task for each kind of event: ok, items, skipped, changed, no_log, failed and ignored, a warning.
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Say hello
      ansible.builtin.debug: {msg: "hello {{ inventory_hostname }}"}
    - name: Loop
      ansible.builtin.debug: {msg: "item {{ item }}"}
      loop: [1, 2]
    - name: Only on h1
      ansible.builtin.debug: {msg: "h1 only"}
      when: inventory_hostname == 'h1'
    - name: Change something
      ansible.builtin.set_fact: {fact: 1}
      changed_when: true
    - name: Keep a secret
      ansible.builtin.debug: {msg: "s3cret"}
      no_log: true
    - name: Fail and go on
      ansible.builtin.fail: {msg: boom}
      ignore_errors: true
    - name: Warn
      ansible.builtin.debug: {msg: "{{ lookup('ansible.builtin.file', 'missing.txt', errors='warn') }}"}
"""
# Differ between any two runs of the same playbook; counters and line numbers follow the order in
# which a host's result and the next host's start reach the callback, which even one fork leaves open.
PER_RUN = {"uuid", "created", "pid", "parent_uuid", "runner_ident", "start", "end", "duration"}
PER_RUN |= {"counter", "start_line", "end_line"}
PER_RUN_DATA = {"playbook_uuid", "play_uuid", "task_uuid", "uuid", "start", "end", "duration"}
VENV_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "project").mkdir()
    book = tmp_path / "project" / "play.yml"
    book.write_text(PLAYBOOK)
    inventory = tmp_path / "inventory"
    inventory.write_text(INVENTORY)
    return book, inventory


def comparable(event: dict[str, Any]) -> dict[str, Any]:
    """An event without what differs between runs (uuids, times, pids)."""
    out = {k: v for k, v in event.items() if k not in PER_RUN}
    out["event_data"] = {k: v for k, v in (event.get("event_data") or {}).items() if k not in PER_RUN_DATA}
    return out


def same_events(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> bool:
    """The same events, whatever their order."""

    def key(event: dict[str, Any]) -> str:
        return json.dumps(comparable(event), sort_keys=True, default=str)

    return sorted(map(key, ours)) == sorted(map(key, theirs))


@pytest.mark.ansible
def test_events_are_those_of_ansible_runners_own_callback(tmp_path: Path) -> None:
    book, inventory = project(tmp_path)
    stock: list[dict[str, Any]] = []
    (tmp_path / "stock").mkdir()
    ansible_runner.run(
        private_data_dir=str(tmp_path / "stock"),
        project_dir=str(book.parent),
        playbook=str(book),
        inventory=str(inventory),
        forks=1,
        verbosity=1,
        quiet=True,
        envvars={"PATH": VENV_PATH},
        event_handler=lambda event: stock.append(event) and False,
    )
    ferry = Collector()
    result = run_step(
        StepSpec(playbook=book, inventory=inventory, forks=1, verbosity=1, run_dir=tmp_path / "runs"),
        sink=ferry,
        should_cancel=lambda: False,
    )

    assert result.status == "successful"
    kinds = {e["event"] for e in ferry.events}
    assert {"runner_on_ok", "runner_item_on_ok", "runner_on_skipped", "runner_on_failed"} <= kinds
    assert any("[WARNING]" in e["stdout"] for e in ferry.events)
    assert any(e["event_data"].get("res", {}).get("changed") for e in ferry.of("runner_on_ok"))
    censored = [e for e in ferry.of("runner_on_ok") if e["event_data"]["task"] == "Keep a secret"]
    assert censored and all("s3cret" not in str(e) for e in censored)
    assert [e["counter"] for e in ferry.events] == list(range(1, len(ferry.events) + 1))
    assert same_events(ferry.events, stock)


def marker_events(stdout: str) -> list[dict[str, Any]]:
    """The events ansible-runner's output filter reads from a playbook's output (no files merged)."""
    events: list[dict[str, Any]] = []
    decoder = OutputEventFilter(None, events.append, suppress_ansible_output=True)
    decoder.write(stdout)
    decoder.close()
    return [e for e in events if e.get("event") != "EOF"]


def run_playbook(tmp_path: Path, book: Path, inventory: Path, plugins: dict[str, str]) -> tuple[str, Path]:
    data = tmp_path / f"data-{len(list(tmp_path.iterdir()))}"
    data.mkdir()
    env = {
        **os.environ,
        **plugins,
        "PATH": VENV_PATH,
        "ANSIBLE_STDOUT_CALLBACK": "awx_display",
        "AWX_ISOLATED_DATA_DIR": str(data),
    }
    done = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(book)],
        env=env,
        cwd=book.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr
    return done.stdout, data


@pytest.mark.ansible
def test_each_event_travels_in_its_marker_and_no_file_is_written(tmp_path: Path) -> None:
    book, inventory = project(tmp_path)
    stdout, data = run_playbook(tmp_path, book, inventory, callback_env(""))
    events = [e for e in marker_events(stdout) if e.get("event") != "verbose"]
    assert len(events) > 30
    for event in events:
        assert {"event", "uuid", "created", "event_data"} <= set(event)
    hello = [e for e in events if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Say hello"]
    # forks finish hosts in any order
    assert sorted(e["event_data"]["res"]["msg"] for e in hello) == ["hello h1", "hello h2"]
    assert not list(data.rglob("*")), "no file per event"
    # The pattern that lets pexpect drop what it read closes every event, once, and only events.
    assert stdout.count(EVENT_END) == len(events) == stdout.count("\x1b[K") // 4

    # ansible-runner's own callback leaves a file per event for ansible-runner to read back.
    stdout, data = run_playbook(tmp_path, book, inventory, {"ANSIBLE_CALLBACK_PLUGINS": get_callback_dir()})
    events = [e for e in marker_events(stdout) if e.get("event") != "verbose"]
    assert all(set(e) <= {"uuid", "counter", "stdout", "start_line", "end_line"} for e in events)
    assert len(list(data.glob("job_events/*-partial.json"))) == len(events)


@pytest.mark.ansible
def test_kolla_ansibles_virtualenv_gives_the_same_events(tmp_path: Path, kolla_install) -> None:
    """kolla-ansible steps run that virtualenv's ansible-playbook, which has no ansible_runner."""
    book, inventory = project(tmp_path)
    ours, kollas = Collector(), Collector()
    for sink, bin_dir in ((ours, None), (kollas, kolla_install.bin)):
        result = run_step(
            StepSpec(playbook=book, inventory=inventory, forks=1, run_dir=tmp_path / "runs", bin_dir=bin_dir),
            sink=sink,
            should_cancel=lambda: False,
        )
        assert result.status == "successful", result.error
    assert len(kollas.events) > 30

    def shapes(events: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
        return sorted(
            (e["event"], e["event_data"].get("host") or "", sorted(comparable(e)["event_data"]))
            for e in events
        )

    assert shapes(kollas.events) == shapes(ours.events)


# Loading the plugin wraps Ansible's Display for the whole process: a fresh interpreter does it.
CALLARGS_PROBE = """
import importlib.util, inspect, sys
from ansible.utils.display import Display

spec = importlib.util.spec_from_file_location("plugin", sys.argv[1])
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)
calls = [
    ((None, "m"), {}),
    ((None, "m", "red", True), {}),
    ((None, "m"), {"log_only": True, "caplevel": 3}),
    ((None,), {"msg": "m", "stderr": True, "newline": False}),
    ((None, "m", "host1"), {}),
    ((None, "m"), {"host": "h", "caplevel": 0}),
]
checked = 0
for method in (Display.display, Display.verbose):
    sig = inspect.signature(inspect.unwrap(method))
    for args, kwargs in calls:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            continue
        bound.apply_defaults()
        assert plugin._callargs(sig, *args, **kwargs) == dict(bound.arguments), (method, args, kwargs)
        checked += 1
print(checked)
"""


def test_display_calls_are_read_by_name_as_inspect_binds_them() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CALLARGS_PROBE, str(CALLBACK_DIR / "awx_display.py")],
        env={**os.environ, **callback_env("")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 8


def test_step_runner_hands_whole_events_over_and_reads_partial_files_for_the_rest(tmp_path: Path) -> None:
    book, inventory = project(tmp_path)
    config = RunnerConfig(
        private_data_dir=str(tmp_path / "data"), playbook=str(book), inventory=str(inventory), ident="step1"
    )
    config.prepare()
    handled: list[dict[str, Any]] = []
    runner = StepRunner(config, event_handler=lambda event: handled.append(dict(event)) and False)
    events_dir = Path(config.artifact_dir) / "job_events"
    events_dir.mkdir(parents=True)

    # Ferry's callback: the marker held the whole event; no file is looked for or written.
    runner.event_callback({"uuid": "u1", "event": "runner_on_ok", "counter": 1, "event_data": {"host": "h1"}})
    # ansible-runner's own callback: the marker held the uuid, the rest is in a file beside.
    (events_dir / "u2-partial.json").write_text(json.dumps({"event": "runner_on_ok", "created": "then"}))
    runner.event_callback({"uuid": "u2", "counter": 2, "stdout": "ok: [h2]"})

    first, second = handled
    assert first["runner_ident"] == second["runner_ident"] == "step1"
    assert first["event_data"] == {"host": "h1"} and first["created"]
    assert second["event"] == "runner_on_ok" and second["created"] == "then"
    assert not list(events_dir.iterdir()), "the partial file is consumed and no artifact is written"

    keeper = StepRunner(config, event_handler=lambda event: True)
    with pytest.raises(RuntimeError, match="keeps no event artifacts"):
        keeper.event_callback({"uuid": "u3", "event": "runner_on_ok", "counter": 3})
