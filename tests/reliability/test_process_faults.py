"""Workers SIGKILLed mid-job, PostgreSQL connections cut mid-step, daphne restarted under watchers.

Every test checks that no event is lost or stored twice, that no Ansible process of the job is
left, and that a step that succeeded never runs again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import psycopg
import pytest

from tests.e2e.stack import BIN, _with_path, poll, wait_for
from tests.reliability.conftest import (
    FINISHED,
    ansible_processes,
    assert_events_whole,
    assert_no_process_left,
    launch,
    private_files,
)

pytestmark = [
    pytest.mark.production,
    pytest.mark.reliability,
    pytest.mark.xdist_group("process-faults"),  # one worker starts the module's stack, not each
]


def start_second_worker(stack) -> None:
    stack._spawn(
        "worker2",
        [BIN / "celery", "-A", "portal", "worker", "-l", "INFO", "-n", f"second-{stack.port}@%h", "-c", "1"],
    )


def kill(stack, name: str) -> None:
    """SIGKILL a worker and its pool, as the OOM killer or a lost machine would."""
    proc = stack.processes.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def kill_worker_running(stack, job: dict) -> str:
    name = "worker2" if job["worker"].startswith("second-") else "worker"
    kill(stack, name)
    return name


def run_until_killed(stack, operator) -> tuple[dict, float]:
    """Launch a slow prechecks job and SIGKILL the worker running it once Ansible runs.

    The step is slowed so that it is still running when the kill comes (within seconds); the
    resumed step is slowed as much, so more would only lengthen the test.
    """
    job = launch(operator, kind="prechecks", params={"lab_slow_seconds": 12})
    poll(lambda: ansible_processes(stack), 60, what="the step's processes")
    running = wait_for(operator, job["id"], {"running"}, timeout=10)
    poll(lambda: private_files(stack, job["id"]), 10, what="the step's private files")
    kill_worker_running(stack, running)
    return running, time.monotonic()


def resume_and_finish(stack, operator, job: dict) -> dict:
    assert operator.post(f"/api/jobs/{job['id']}/resume/").status_code == 202
    done = wait_for(operator, job["id"], FINISHED, timeout=120)
    assert done["state"] == "succeeded", done["result"]
    first = [s["state"] for s in done["steps"] if s["attempt"] == 1]
    assert first == ["lost"], first
    assert [s["state"] for s in done["steps"] if s["attempt"] == 2] == ["succeeded"]
    assert_events_whole(operator, done)
    assert_no_process_left(stack)
    return done


def test_one_of_two_workers_killed_mid_job_is_lost_and_resumed_on_the_other(stack, operator):
    start_second_worker(stack)
    poll(lambda: stack.wait_healthy()["checks"]["worker"]["ok"], 60, what="workers up")
    running, killed = run_until_killed(stack, operator)
    assert_no_process_left(stack, timeout=10)
    print(f"one of two workers killed: Ansible gone {time.monotonic() - killed:.2f} s later")
    lost = wait_for(operator, running["id"], {"lost", "succeeded", "failed"}, timeout=35)
    print(f"one of two workers killed: job lost {time.monotonic() - killed:.1f} s later")
    assert lost["state"] == "lost" and time.monotonic() - killed <= 30
    assert private_files(stack, running["id"]) == []
    resume_and_finish(stack, operator, running)


def test_the_only_worker_killed_mid_job_is_lost_without_any_worker(stack, operator):
    for name in [n for n in stack.processes if n.startswith("worker")][1:]:
        kill(stack, name)  # leave exactly one
    running, killed = run_until_killed(stack, operator)
    assert not [n for n in stack.processes if n.startswith("worker")]
    assert_no_process_left(stack, timeout=10)
    print(f"only worker killed: Ansible gone {time.monotonic() - killed:.2f} s later")
    lost = wait_for(operator, running["id"], {"lost", "succeeded", "failed"}, timeout=35)
    print(f"only worker killed: job lost {time.monotonic() - killed:.1f} s later, with no worker running")
    assert lost["state"] == "lost" and time.monotonic() - killed <= 30
    assert private_files(stack, running["id"]) == []
    stack.start_worker()
    resume_and_finish(stack, operator, running)


def terminate_backends(stack) -> int:
    """pg_terminate_backend every connection to the stack's database (worker, beat, web alike)."""
    with psycopg.connect(_with_path(stack.database_url, "/postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [stack._db_name],
        ).fetchall()
    return len(rows)


def test_database_connections_cut_mid_step_the_job_finishes_and_no_step_runs_twice(stack, operator):
    job = launch(operator, kind="reconfigure", params={"lab_slow_seconds": 3})
    cut = 0
    for position in (1, 2):

        def in_step(position=position) -> bool:
            state = operator.get(f"/api/jobs/{job['id']}/").json()
            return state.get("current_step") == position and bool(ansible_processes(stack))

        poll(in_step, 90, what=f"step {position} running")
        cut += terminate_backends(stack)
    assert cut
    done = wait_for(operator, job["id"], FINISHED, timeout=120)
    assert done["state"] == "succeeded", done["result"]
    assert done["attempt"] == 1
    assert [s["state"] for s in done["steps"]] == ["succeeded"] * 3
    assert_events_whole(operator, done)
    assert_no_process_left(stack)


def test_daphne_restarted_under_watching_clients_they_miss_and_repeat_nothing(stack, operator):
    from websockets.asyncio.client import connect

    job = launch(operator, kind="prechecks", params={"lab_slow_seconds": 4})
    headers = stack.ws_headers(operator)
    seen: list[list[int]] = [[] for _ in range(3)]
    reconnects = [0, 0, 0]
    stop = asyncio.Event()

    async def watch(index: int) -> None:
        while not stop.is_set():
            after = seen[index][-1] if seen[index] else 0
            try:
                url = f"{stack.ws_url}/ws/jobs/{job['id']}/?after={after}"
                async with connect(url, additional_headers=headers, max_size=None, open_timeout=3) as ws:
                    while not stop.is_set():
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        if message["kind"] == "events":
                            seen[index].extend(e["seq"] for e in message["events"])
            except (OSError, TimeoutError, Exception):
                reconnects[index] += 1
                await asyncio.sleep(0.2)

    async def run() -> dict:
        watchers = [asyncio.create_task(watch(i)) for i in range(3)]
        await asyncio.to_thread(poll, lambda: ansible_processes(stack), 60, 0.1, "the step's processes")
        await asyncio.to_thread(lambda: poll(lambda: all(seen), 30, 0.1, "first events"))
        web = stack.processes.pop("web")
        os.killpg(web.pid, signal.SIGKILL)
        web.wait(timeout=10)
        stack._spawn(
            "web", [BIN / "daphne", "-b", "127.0.0.1", "-p", str(stack.port), "portal.asgi:application"]
        )
        await asyncio.to_thread(stack.wait_healthy)
        done = await asyncio.to_thread(wait_for, operator, job["id"], FINISHED, 120)
        total = done["event_count"]
        await asyncio.to_thread(lambda: poll(lambda: all(len(s) >= total for s in seen), 30, 0.1, "catch up"))
        stop.set()
        await asyncio.gather(*watchers)
        return done

    done = asyncio.run(run())
    assert done["state"] == "succeeded", done["result"]
    stored = [e["seq"] for e in assert_events_whole(operator, done)]
    assert all(reconnects), f"a client never lost its socket: {reconnects}"
    for watched in seen:
        assert watched == stored, "a client missed or repeated events"
    assert_no_process_left(stack)
