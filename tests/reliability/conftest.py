"""Faults injected into Ferry's production shape: a Redis of the tests' own, workers, PostgreSQL.

Each test module gets one stack (daphne, celery worker, celery beat on PostgreSQL) whose Redis is
a ``redis-server`` this module starts on a free port, so stopping or freezing it touches no one
else. The helpers check what every fault test promises: no event lost or stored twice, and no
Ansible process of the job left running.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from runner.process import TOKEN_ENV
from tests.e2e.conftest import _production_urls
from tests.e2e.stack import Stack, free_port

pytestmark = [pytest.mark.production, pytest.mark.reliability]
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise

INVENTORY = b"[control]\nctl01\n[network]\nctl01\n[monitoring]\nctl01\n[compute]\ncmp01\ncmp02\n"


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "") -> Any:
    """Call ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or predicate}")
        time.sleep(interval)


class OwnRedis:
    """A redis-server on a free port that a test may stop, start, freeze and thaw."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "fault tests start a redis-server of their own; it is not installed"
            if os.environ.get("FERRY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}:
                pytest.fail(message)
            pytest.skip(message)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        poll(self.answers, 10, 0.05, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Gone: connections are refused."""
        if self.proc is not None:
            self.thaw()
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self) -> None:
        """Frozen: connections are accepted and nothing ever answers (a hung or paused server)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None and self.frozen:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.frozen = False


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = OwnRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory, own_redis):
    """A production-shape Ferry on the module's own Redis, with a lab cloud ``e2e`` imported."""
    database_url, _ = _production_urls()
    stack = Stack(tmp_path_factory.mktemp("faults"), database_url=database_url, redis_url=own_redis.url)
    stack.redis_db = 0
    try:
        stack.start()
        admin = stack.login("admin")
        response = admin.post(
            "/api/clouds/", json={"slug": "e2e", "passwords_yml": "database_password: E2e-Secret-99\n"}
        )
        assert response.status_code == 201, response.text
        response = admin.post(
            "/api/clouds/e2e/import-inventory/",
            files={"inventory": ("multinode", INVENTORY)},
            data={"release": "2025.1"},
        )
        assert response.status_code == 200, response.text
        # Deployed once, so prechecks, reconfigure and stop have something to check and change.
        deploy = launch(admin, kind="deploy")
        done = wait_for(admin, deploy["id"], {"succeeded", "failed"}, timeout=300)
        assert done["state"] == "succeeded", admin.get(f"/jobs/{deploy['id']}/log.txt").text[-3000:]
        yield stack
    finally:
        own_redis.start() if own_redis.proc is None else own_redis.thaw()
        stack.stop()


FINISHED = {"succeeded", "failed", "canceled", "lost"}


@pytest.fixture(scope="module")
def stack(fault_stack):
    """The module's production-shape stack (one per test module: faults do not leak across)."""
    return fault_stack


@pytest.fixture
def operator(stack):
    return stack.login("operator")


# --- what every fault test checks ---------------------------------------------------------------
def launch(client: httpx.Client, **body) -> dict:
    body.setdefault("confirm", True)
    response = client.post("/api/jobs/", json={"cloud": "e2e", **body})
    assert response.status_code == 201, response.text
    return response.json()


def job_state(client: httpx.Client, job_id: int) -> dict:
    return client.get(f"/api/jobs/{job_id}/").json()


def wait_for(client: httpx.Client, job_id: int, states: set[str], timeout: float = 120) -> dict:
    last: dict = {}

    def reached() -> dict | None:
        nonlocal last
        last = job_state(client, job_id)
        return last if last["state"] in states else None

    try:
        return poll(reached, timeout, 0.2)
    except AssertionError:
        message = f"job {job_id} did not reach {states}: {last.get('state')} {last.get('result')}"
        raise AssertionError(message) from None


def all_events(client: httpx.Client, job_id: int) -> list[dict]:
    events, after = [], 0
    while after is not None:
        page = client.get(f"/api/jobs/{job_id}/events/", params={"after": after, "limit": 500}).json()
        events += page["events"]
        after = page["next_after"]
    return events


def assert_events_whole(client: httpx.Client, job: dict) -> list[dict]:
    """Every step's events are stored once each, counters 1..n with no gap, and the job's count agrees."""
    events = all_events(client, job["id"])
    seqs = [e["seq"] for e in events]
    assert len(seqs) == len(set(seqs)), "an event was stored twice"
    by_step: dict[int, list[int]] = {}
    for event in events:
        by_step.setdefault(event["step"], []).append(event["counter"])
    for step, counters in by_step.items():
        assert counters == list(range(1, len(counters) + 1)), f"step {step} lost events: {counters}"
    steps = {s["id"]: s for s in job["steps"]}
    for step_id, counters in by_step.items():
        assert steps[step_id]["event_count"] == len(counters), f"step {step_id} counted otherwise"
    assert job["event_count"] == len(events)
    return events


def ansible_processes(stack: Stack) -> list[tuple[int, list[str]]]:
    """Live processes of this stack's steps (ansible-playbook and its task workers)."""
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            ours = TOKEN_ENV in env and env.get("FERRY_VAR_DIR") == str(stack.var_dir)
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append((proc.pid, proc.cmdline()))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def assert_no_process_left(stack: Stack, timeout: float = 10) -> None:
    poll(lambda: not ansible_processes(stack), timeout, 0.1, "no Ansible process of the stack left")


def private_files(stack: Stack, job_id: int) -> list[Path]:
    """The job's ansible-runner private directories (extravars with passwords) still on disk."""
    return list((stack.var_dir / "scratch" / f"job-{job_id}").glob("step-*"))
