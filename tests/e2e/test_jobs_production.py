"""The job engine in production shape: API → PostgreSQL → Redis → a separate Celery worker → Ansible.

Covers a lab job run to the end by the worker process, cancel that leaves no
process behind, and a worker killed mid-job: the reaper marks the job lost,
a new worker ends the orphaned Ansible processes, and resume finishes the job.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.e2e.stack import add_lab_cloud, launch, poll, step_processes, wait_for

pytestmark = [
    pytest.mark.production,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group("jobs-production"),  # one worker starts the module's stack, not each
]


@pytest.fixture(scope="module")
def stack(production_stack):
    """The module's production stack with the lab cloud ``e2e`` deployed."""
    add_lab_cloud(production_stack, passwords_yml="database_password: E2e-Secret-99\n")
    return production_stack


def wait_for_processes(stack, present: bool, timeout: float) -> float:
    started = time.monotonic()
    poll(
        lambda: bool(step_processes(stack)) == present,
        timeout,
        0.05,
        "step processes " + ("to appear" if present else "to end"),
    )
    return time.monotonic() - started


def test_worker_process_runs_a_lab_job_and_stores_every_event(stack):
    operator = stack.login("operator")
    job = launch(operator, kind="prechecks")
    done = wait_for(operator, job["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", operator.get(f"/jobs/{job['id']}/log.txt").text[-3000:]
    assert done["worker"].startswith("e2e-")
    events, after = [], 0
    while after is not None:
        page = operator.get(f"/api/jobs/{job['id']}/events/", params={"after": after, "limit": 500}).json()
        events += page["events"]
        after = page["next_after"]
    assert [e["counter"] for e in events] == list(range(1, len(events) + 1))
    assert len(events) == done["event_count"] > 10
    log = operator.get(f"/jobs/{job['id']}/log.txt").text
    assert "PLAY RECAP" in log and "E2e-Secret-99" not in log


def test_cancel_stops_the_job_and_leaves_no_process(stack):
    operator = stack.login("operator")
    job = launch(operator, kind="prechecks", params={"lab_slow_seconds": 120})
    wait_for(operator, job["id"], {"running"})
    # The cancel comes once the slow task's `sleep` runs.
    poll(lambda: any(cmd[:1] == ["sleep"] for _, cmd in step_processes(stack)), 60, 0.05, "the slow task")
    asked = time.monotonic()
    assert operator.post(f"/api/jobs/{job['id']}/cancel/").status_code == 202
    done = wait_for(operator, job["id"], {"canceled", "failed", "succeeded"}, timeout=30)
    took = time.monotonic() - asked
    assert done["state"] == "canceled", done["result"]
    wait_for_processes(stack, present=False, timeout=5)
    print(f"cancel took {took:.2f} s from the request to the canceled state")
    assert took < 5


def test_killed_worker_job_is_reaped_lost_then_resumed(stack):
    operator = stack.login("operator")
    job = launch(operator, kind="reconfigure", params={"lab_slow_seconds": 6}, confirm=True)
    running = wait_for(operator, job["id"], {"running"})
    wait_for_processes(stack, present=True, timeout=60)
    stack.kill_worker()
    killed = time.monotonic()
    # The reaper is a periodic task, so some worker must be alive to run it: start the next one.
    stack.start_worker()
    lost = wait_for(operator, job["id"], {"lost"}, timeout=40)
    assert time.monotonic() - killed < 30
    assert "resume" in lost["result"] and running["worker"] in lost["result"]
    wait_for_processes(
        stack, present=False, timeout=30
    )  # the step's watchdog ended its Ansible processes with the worker

    # Resuming a job that changes the cloud needs the confirmation again.
    assert operator.post(f"/api/jobs/{job['id']}/resume/").status_code == 400
    assert operator.post(f"/api/jobs/{job['id']}/resume/", json={"confirm": True}).status_code == 202
    done = wait_for(operator, job["id"], {"succeeded", "failed"}, timeout=240)
    assert done["state"] == "succeeded", done["result"]
    assert done["attempt"] == 2
    states = [(s["attempt"], s["state"]) for s in done["steps"]]
    first = [state for attempt, state in states if attempt == 1]
    assert first and "running" not in first  # the step the worker was in is marked lost, and kept
    assert states[-1] == (2, "succeeded")


def test_two_simultaneous_mutating_jobs_never_run_together(stack):
    operator = stack.login("operator")
    first = launch(operator, kind="reconfigure", confirm=True)
    second = launch(operator, kind="reconfigure", confirm=True)
    a = wait_for(operator, first["id"], {"succeeded", "failed"}, timeout=300)
    b = wait_for(operator, second["id"], {"succeeded", "failed"}, timeout=300)
    spans = sorted([(a["started_at"], a["finished_at"]), (b["started_at"], b["finished_at"])])
    assert spans[0][1] <= spans[1][0], f"mutating jobs overlapped: {spans}"


def test_a_quiet_job_socket_stays_open(stack):
    """Nothing to send for longer than Redis's default read timeout (5 s): the socket stays open.

    redis-py 8 gives up reading after 5 s, the time channels-redis blocks for in receive(); every
    consumer with nothing to receive crashed and its WebSocket closed with 1011.
    """
    from websockets.asyncio.client import connect

    operator = stack.login("operator")
    job_id = operator.get("/api/jobs/", params={"cloud": "e2e"}).json()["results"][0]["id"]

    async def watch() -> None:
        url = f"{stack.ws_url}/ws/jobs/{job_id}/?after=0"
        async with connect(url, additional_headers=stack.ws_headers(operator), max_size=None) as ws:
            kinds: list[str] = []
            while "live" not in kinds:
                kinds.append(json.loads(await ws.recv())["kind"])
            with pytest.raises(TimeoutError):  # nothing arrives, and nothing closes the socket
                await asyncio.wait_for(ws.recv(), 8)
            await asyncio.wait_for(await ws.ping(), 5)

    asyncio.run(watch())
