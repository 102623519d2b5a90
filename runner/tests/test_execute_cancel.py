"""Cancelling a running step ends it within two seconds and leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from runner.execute import StepResult, StepSpec, run_step
from runner.process import TOKEN_ENV, kill_step, processes_with_token
from runner.tests.lab_fixtures import Collector, new_cloud


def sleepers_of_this_process() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.cmdline()[:2] == ["sleep", "300"]:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.mark.ansible
def test_cancel_ends_the_whole_tree_within_two_seconds(tmp_path: Path) -> None:
    cloud = new_cloud(tmp_path)
    requested: list[float] = []
    tokens: set[str] = set()
    sleeper_pids: set[int] = set()
    sessions: set[int] = set()

    def should_cancel() -> bool:
        if not requested:
            sleepers = sleepers_of_this_process()
            # Wait until the slow task runs on several hosts, each in its own session.
            if len(sleepers) >= 4:
                for proc in sleepers:
                    tokens.add(proc.environ()[TOKEN_ENV])
                    sleeper_pids.add(proc.pid)
                sessions.update(os.getsid(p.pid) for p in sleepers)
                requested.append(time.monotonic())
        return bool(requested)

    sink = Collector()
    started = time.monotonic()
    result, _ = cloud.run(
        "site.yml", action="deploy", slow_seconds=300, sink=sink, should_cancel=should_cancel
    )
    returned = time.monotonic()

    assert result.status == "canceled"
    assert requested, "the slow task never started"
    # ansible-core's workers call setsid(): killing one process group could not end them all.
    assert len(sessions) >= 2
    assert returned - requested[0] < 2.0
    assert returned - started < 60
    [token] = tokens
    assert processes_with_token(token) == []
    leftovers = []
    for proc in psutil.process_iter():
        try:
            ours = proc.pid in sleeper_pids or proc.environ().get(TOKEN_ENV) == token
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                leftovers.append(proc.cmdline())
        except psutil.Error:
            continue
    assert leftovers == []
    # Everything Ansible said before the cancel was delivered, in order.
    assert sink.counters == list(range(1, len(sink.events) + 1))
    assert any(e["event_data"].get("task") == "Waiting on slow hosts" for e in sink.of("runner_on_start"))


def test_kill_step_finds_processes_that_left_the_tree() -> None:
    token = uuid.uuid4().hex
    env = {**os.environ, TOKEN_ENV: token}
    # A double fork: the sleep is re-parented away from this process and sits in its own session.
    subprocess.run(["setsid", "sh", "-c", "sleep 300 & exit 0"], env=env, check=True)
    deadline = time.monotonic() + 5
    while not processes_with_token(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    [orphan] = processes_with_token(token)
    assert orphan.ppid() != os.getpid()
    killed = kill_step(token)
    assert orphan.pid in killed
    assert processes_with_token(token) == []


@pytest.mark.ansible
def test_cancelling_one_step_leaves_a_concurrent_step_alone(tmp_path: Path) -> None:
    def book(name: str, seconds: int) -> Path:
        path = tmp_path / f"{name}.yml"
        path.write_text(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            f"    - ansible.builtin.command: sleep {seconds}\n"
            "      vars: {ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        )
        return path

    inventory = "h1 ansible_connection=local\nh2 ansible_connection=local\n"
    other: dict[str, StepResult] = {}
    thread = threading.Thread(
        target=lambda: other.update(
            result=run_step(
                StepSpec(playbook=book("other", 4), inventory=inventory, run_dir=tmp_path),
                sink=Collector(),
                should_cancel=lambda: False,
            )
        )
    )
    thread.start()
    started = time.monotonic()

    def cancel_once_sleeping() -> bool:
        for child in psutil.Process().children(recursive=True):
            try:
                if child.cmdline()[:2] == ["sleep", "300"]:
                    return True
            except psutil.Error:  # it ended, or is a zombie the other step has not reaped yet
                continue
        return False

    result = run_step(
        StepSpec(playbook=book("doomed", 300), inventory=inventory, run_dir=tmp_path),
        sink=Collector(),
        should_cancel=cancel_once_sleeping,
    )
    thread.join(30)
    assert result.status == "canceled"
    assert time.monotonic() - started < 20
    assert other["result"].status == "successful"
