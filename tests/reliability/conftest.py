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
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import _production_urls
from tests.e2e.stack import Stack, add_lab_cloud, free_port, poll, step_processes
from tests.e2e.stack import launch as stack_launch

pytestmark = [pytest.mark.production, pytest.mark.reliability]
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per poll otherwise


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
        add_lab_cloud(stack, passwords_yml="database_password: E2e-Secret-99\n")
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
    """Launch a job on the cloud ``e2e``, confirmed unless ``confirm`` is given."""
    body.setdefault("confirm", True)
    return stack_launch(client, **body)


def job_state(client: httpx.Client, job_id: int) -> dict:
    return client.get(f"/api/jobs/{job_id}/").json()


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


ansible_processes = step_processes


def assert_no_process_left(stack: Stack, timeout: float = 10) -> None:
    poll(lambda: not ansible_processes(stack), timeout, 0.1, "no Ansible process of the stack left")


def private_files(stack: Stack, job_id: int) -> list[Path]:
    """The job's ansible-runner private directories (extravars with passwords) still on disk."""
    return list((stack.var_dir / "scratch" / f"job-{job_id}").glob("step-*"))
