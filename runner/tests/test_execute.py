"""run_step against real ansible-playbook runs: events, redaction, statuses, heartbeat, cleanup."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from runner.execute import EventDeliveryError, StepSpec, run_step
from runner.process import processes_with_token
from runner.tests.lab_fixtures import Collector, cloud_inventory, deploy, new_cloud

pytestmark = pytest.mark.ansible

INVENTORY = "[control]\nctl1\nctl2\n\n[compute]\ncmp1\n\n[all:vars]\nansible_connection=local\n"
SECRET = "Sup3r-s3cret-passw0rd"
REPO = Path(__file__).resolve().parents[2]


def playbook(tmp_path: Path, tasks: str, name: str = "play.yml") -> Path:
    path = tmp_path / "project" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "- hosts: all\n  gather_facts: false\n  vars:\n"
        "    ansible_python_interpreter: '{{ ansible_playbook_python }}'\n  tasks:\n" + tasks
    )
    return path


def spec(tmp_path: Path, book: Path, **kwargs) -> StepSpec:
    return StepSpec(playbook=book, inventory=INVENTORY, run_dir=tmp_path / "runs", **kwargs)


def never() -> bool:
    return False


LOOP_TASKS = """\
    - name: Loop
      ansible.builtin.debug: {msg: "item {{ item }}"}
      loop: "{{ range(40) | list }}"
    - name: Print the token and PATH
      ansible.builtin.debug:
        msg: "{{ lookup('env', 'FERRY_STEP_TOKEN') }} {{ lookup('env', 'PATH') }}"
      run_once: true
"""


def test_events_arrive_in_counter_order_with_no_gap_and_no_duplicate(tmp_path: Path) -> None:
    sink = Collector()
    result = run_step(spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=sink, should_cancel=never)
    assert result.status == "successful" and result.rc == 0
    assert sink.counters == list(range(1, result.events + 1))
    assert len({e["uuid"] for e in sink.events}) == result.events > 120
    assert sink.events[0]["event"] == "playbook_on_start"
    assert sink.events[-1]["event"] == "playbook_on_stats"
    assert result.stats["ok"] == {"ctl1": 2, "ctl2": 1, "cmp1": 1}
    assert result.finished >= result.started
    for event in sink.events:
        assert {
            "uuid",
            "counter",
            "event",
            "stdout",
            "start_line",
            "end_line",
            "created",
            "event_data",
        } <= set(event)
    item = sink.of("runner_item_on_ok", "cmp1")[0]
    assert item["event_data"]["task"] == "Loop" and item["event_data"]["res"]["item"] == 0


def test_the_playbook_sees_the_step_token_and_the_virtualenv_on_path(tmp_path: Path) -> None:
    sink = Collector()
    run_step(spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=sink, should_cancel=never)
    [printed] = [e for e in sink.of("runner_on_ok") if e["event_data"]["task"] == "Print the token and PATH"]
    token, path = printed["event_data"]["res"]["msg"].split(" ", 1)
    assert len(token) == 32
    assert path.split(":")[0] == str(Path(sys.executable).parent)
    assert not processes_with_token(token)


def test_private_data_dir_is_fresh_and_removed(tmp_path: Path) -> None:
    book = playbook(tmp_path, LOOP_TASKS)
    for _ in range(2):
        result = run_step(spec(tmp_path, book, extra_vars={"x": 1}), sink=Collector(), should_cancel=never)
        assert result.status == "successful"
    assert list((tmp_path / "runs").iterdir()) == []


def test_final_flush_delivers_everything_even_to_a_slow_sink(tmp_path: Path) -> None:
    def slow(batch: list[dict]) -> None:
        time.sleep(0.2)
        collected.extend(batch)

    collected: list[dict] = []
    result = run_step(spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=slow, should_cancel=never)
    assert [e["counter"] for e in collected] == list(range(1, result.events + 1))


def test_a_sink_that_fails_first_still_gets_every_event_once_in_order(tmp_path: Path) -> None:
    sink = Collector(fail_first=4)
    result = run_step(spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=sink, should_cancel=never)
    assert sink.failed_calls == 4
    assert sink.counters == list(range(1, result.events + 1))


def test_a_sink_that_never_recovers_makes_run_step_raise_with_the_events(tmp_path: Path) -> None:
    def down(batch: list[dict]) -> None:
        raise ConnectionError("no database")

    with pytest.raises(EventDeliveryError) as caught:
        run_step(
            spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=down, should_cancel=never, delivery_timeout=1
        )
    counters = [e["counter"] for e in caught.value.undelivered]
    assert counters == list(range(1, len(counters) + 1)) and len(counters) > 100
    assert caught.value.result.status == "successful" and caught.value.result.events == len(counters)
    assert list((tmp_path / "runs").iterdir()) == []


def test_secrets_printed_by_tasks_never_reach_the_sink(tmp_path: Path) -> None:
    tasks = """\
    - name: Print the secret in several ways
      ansible.builtin.debug:
        msg: "password={{ db_password }}; url=mysql://nova:{{ db_password }}@db/nova"
    - name: Show the variable
      ansible.builtin.debug: {var: db_password}
    - name: Loop over it
      ansible.builtin.debug: {msg: "{{ item }}"}
      loop: ["{{ db_password }}", "x{{ db_password }}x"]
    - name: Fail with it
      ansible.builtin.fail: {msg: "cannot log in with {{ db_password }}"}
      when: inventory_hostname == 'cmp1'
"""
    sink = Collector()
    result = run_step(
        spec(tmp_path, playbook(tmp_path, tasks), extra_vars={"db_password": SECRET}, secrets=[SECRET]),
        sink=sink,
        should_cancel=never,
    )
    assert result.status == "failed"
    dumped = sink.dump()
    assert SECRET not in dumped
    assert "password=********; url=mysql://nova:********@db/nova" in dumped
    assert sink.failure_messages()["cmp1"] == ["cannot log in with ********"]


def test_extra_vars_stay_out_of_the_command_line(tmp_path: Path) -> None:
    seen: list[str] = []

    def look() -> bool:
        for proc in psutil.Process().children(recursive=True):
            try:
                seen.append(" ".join(proc.cmdline()))
            except psutil.Error:
                continue
        return False

    tasks = "    - ansible.builtin.command: sleep 1\n      run_once: true\n"
    book = playbook(tmp_path, tasks)
    result = run_step(
        spec(tmp_path, book, extra_vars={"db_password": SECRET}), sink=Collector(), should_cancel=look
    )
    assert result.status == "successful"
    assert any("ansible-playbook" in cmd for cmd in seen)
    assert not any(SECRET in cmd for cmd in seen)


def test_extra_vars_files_come_first_and_extra_vars_win(tmp_path: Path) -> None:
    globals_file = tmp_path / "globals.yml"
    globals_file.write_text("a: from-file\nb: from-file\n")
    tasks = '    - ansible.builtin.debug: {msg: "{{ a }} {{ b }}"}\n      run_once: true\n'
    sink = Collector()
    run_step(
        spec(
            tmp_path,
            playbook(tmp_path, tasks),
            extra_vars_files=[globals_file],
            extra_vars={"b": "from-dict"},
        ),
        sink=sink,
        should_cancel=never,
    )
    assert sink.of("runner_on_ok")[0]["event_data"]["res"]["msg"] == "from-file from-dict"


def test_inventory_as_a_path_limit_and_tags(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    tasks = """\
    - name: Tagged
      ansible.builtin.debug: {msg: tagged}
      tags: wanted
    - name: Other
      ansible.builtin.debug: {msg: other}
      tags: other
"""
    sink = Collector()
    result = run_step(
        StepSpec(playbook=playbook(tmp_path, tasks), inventory=inventory, limit="control", tags=["wanted"]),
        sink=sink,
        should_cancel=never,
    )
    assert result.stats["ok"] == {"ctl1": 1, "ctl2": 1}
    assert {e["event_data"]["task"] for e in sink.of("runner_on_ok")} == {"Tagged"}


def test_failed_and_unreachable_hosts_make_a_failed_step(tmp_path: Path) -> None:
    tasks = """\
    - name: Fail on one host
      ansible.builtin.fail: {msg: broken}
      when: inventory_hostname == 'ctl2'
"""
    result = run_step(spec(tmp_path, playbook(tmp_path, tasks)), sink=Collector(), should_cancel=never)
    assert (result.status, result.rc) == ("failed", 2)
    assert result.hosts_with("failures") == ["ctl2"]


def test_a_playbook_that_cannot_run_is_an_error(tmp_path: Path) -> None:
    book = tmp_path / "broken.yml"
    book.write_text("- hosts: all\n  tasks:\n    - debug: {msg: [unclosed\n")
    result = run_step(spec(tmp_path, book), sink=Collector(), should_cancel=never)
    assert result.status == "error" and result.rc != 0
    assert result.error and "yaml" in result.error.lower()
    missing = run_step(spec(tmp_path, tmp_path / "missing.yml"), sink=Collector(), should_cancel=never)
    assert missing.status == "error"


def test_should_cancel_is_asked_at_least_every_second(tmp_path: Path) -> None:
    tasks = "    - ansible.builtin.command: sleep 3\n      run_once: true\n"
    polls: list[float] = []

    def recording() -> bool:
        polls.append(time.monotonic())
        return False

    result = run_step(spec(tmp_path, playbook(tmp_path, tasks)), sink=Collector(), should_cancel=recording)
    assert result.status == "successful"
    assert len(polls) >= 4
    assert max(b - a for a, b in itertools.pairwise(polls)) < 1.0


def test_a_failing_cancel_check_does_not_break_the_step(tmp_path: Path) -> None:
    def broken() -> bool:
        raise RuntimeError("database gone")

    result = run_step(spec(tmp_path, playbook(tmp_path, LOOP_TASKS)), sink=Collector(), should_cancel=broken)
    assert result.status == "successful"


def test_timeout_ends_the_step_and_its_processes(tmp_path: Path) -> None:
    tasks = "    - ansible.builtin.command: sleep 300\n"
    started = time.monotonic()
    result = run_step(
        spec(tmp_path, playbook(tmp_path, tasks), timeout=3), sink=Collector(), should_cancel=never
    )
    assert result.status == "timeout"
    assert time.monotonic() - started < 8


def test_a_twenty_host_deploy_is_about_a_thousand_events(tmp_path: Path) -> None:
    inventory, hosts = cloud_inventory(3, 2, 14, cells=2)
    cloud = new_cloud(tmp_path, inventory, hosts)
    events = deploy(cloud)
    assert len(hosts) == 20
    assert 800 <= len(events.events) <= 2000
    assert events.counters == list(range(1, len(events.events) + 1))
    assert json.loads(json.dumps(events.events)) == events.events


# Run in a fresh interpreter that imports nothing else, so that its peak memory is the step's.
MEMORY_PROBE = """
import sys
from pathlib import Path
from runner.execute import StepSpec, run_step

def peak_kb():  # VmHWM: this process's own peak; ru_maxrss would start at the parent's
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])

book, inventory = Path(sys.argv[1]), sys.argv[2]
counters = []
before = peak_kb()
result = run_step(
    StepSpec(playbook=book, inventory=inventory, run_dir=book.parent.parent / "runs"),
    sink=lambda batch: counters.extend(e["counter"] for e in batch),
    should_cancel=lambda: False,
)
grown = peak_kb() - before
print(result.status, len(counters), len(set(counters)), grown // 1024)
"""


def test_the_output_a_step_prints_is_not_kept_in_the_worker(tmp_path: Path) -> None:
    # 600 events of 8 kB printed (about 10 MB through the pty, each event's data in its marker): if the
    # pty reader kept what it read, the process would grow by some 24 MB.
    book = playbook(
        tmp_path,
        "    - ansible.builtin.debug: {msg: \"{{ 'x' * 8000 }}\"}\n      loop: '{{ range(200) | list }}'\n",
    )
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(book), INVENTORY],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    status, delivered, unique, grown_mb = done.stdout.split()
    assert status == "successful"
    assert int(delivered) == int(unique) > 600, done.stdout
    assert int(grown_mb) < 8, f"the step grew the process by {grown_mb} MB"
