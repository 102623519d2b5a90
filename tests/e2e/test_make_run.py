"""`make run` serves the portal and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import psutil
import pytest

from tests.e2e.stack import ROOT, free_port

pytestmark = pytest.mark.server


def test_make_run_serves_and_ctrl_c_stops_everything(tmp_path):
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "SECRET_"))}
    environ.update(PORT=str(port), FERRY_VAR_DIR=str(tmp_path), FERRY_SCRATCH_DIR=str(tmp_path / "scratch"))
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # As from a terminal: a shell that starts tests in the background leaves SIGINT ignored,
        # and an ignored SIGINT stays ignored through exec (daphne then never sees Ctrl-C).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("make run did not become healthy")
        assert httpx.get(f"http://127.0.0.1:{port}/login/").status_code == 200
        family = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert f"http://127.0.0.1:{port}/" in output
    assert "operator-demo-pass" in output

    def survivors() -> list[int]:
        alive = []
        for pid in family:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                continue
        return alive

    # make has exited; its children get two seconds to finish exiting, polled, not slept.
    deadline = time.monotonic() + 2
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors() == []
