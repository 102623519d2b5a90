"""A step whose worker is SIGKILLed leaves no Ansible process and no private files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from runner.process import TOKEN_ENV

ROOT = Path(__file__).resolve().parents[2]
MARK = "FERRY_WATCHDOG_TEST"

# A worker of its own: runs a lab deploy whose first task sleeps on every host.
WORKER = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path
    from runner.tests.lab_fixtures import new_cloud

    cloud = new_cloud(Path(sys.argv[1]))
    # The step's own environment carries the mark: Ansible inherits nothing else of the worker's.
    mark = os.environ["FERRY_WATCHDOG_TEST"]
    cloud.run("site.yml", action="deploy", slow_seconds=300, env={"FERRY_WATCHDOG_TEST": mark})
    """
)


def marked(mark: str, step_only: bool = False) -> list[tuple[int, list[str]]]:
    """(pid, command line) of live processes with ``mark`` in their environment (and a step token)."""
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            if env.get(MARK) != mark or (step_only and TOKEN_ENV not in env):
                continue
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append((proc.pid, proc.cmdline()))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def poll(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.mark.ansible
def test_killed_worker_leaves_no_ansible_process_and_no_private_files(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path)], env=env, cwd=ROOT, start_new_session=True
    )
    try:
        sleepers = poll(
            lambda: [pid for pid, cmd in marked(mark) if cmd[:2] == ["sleep", "300"]], timeout=120
        )
        assert sleepers, "the slow task never started"
        step_dirs = list((tmp_path / "runs").glob("step-*"))
        assert step_dirs, "the step has no private directory"
        assert (step_dirs[0] / "env" / "extravars").exists()
        # Ansible task workers call setsid(): they are not in the worker's process group.
        assert any(os.getsid(pid) != worker.pid for pid in sleepers)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()

    gone = poll(lambda: not marked(mark, step_only=True), timeout=15)
    assert gone, f"step processes outlived their worker: {marked(mark, step_only=True)}"
    print(f"step processes gone {time.monotonic() - killed:.2f} s after the worker was killed")
    assert poll(lambda: not list((tmp_path / "runs").glob("step-*")), timeout=5), "private files left"
    assert poll(lambda: not marked(mark), timeout=10), "the watchdog did not exit"
