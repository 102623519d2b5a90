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
    time.sleep(0.5)
    assert [
        pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ] == []
