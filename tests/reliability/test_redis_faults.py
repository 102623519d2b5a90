"""Redis stopped or frozen during a launch and during a job; 50 launches at once; cancel anywhere.

The stack's Redis is the module's own (see conftest), so stopping it touches nothing else. Every
test checks that no event is lost or stored twice and that no Ansible process of the job is left.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.utils.dateparse import parse_datetime

from tests.e2e.stack import poll, wait_for
from tests.reliability.conftest import (
    FINISHED,
    ansible_processes,
    assert_events_whole,
    assert_no_process_left,
    job_state,
    launch,
)

pytestmark = [
    pytest.mark.production,
    pytest.mark.reliability,
    pytest.mark.xdist_group("redis-faults"),  # one worker starts the module's stack, not each
]


def timed_get(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(url, timeout=30)
    return response, time.monotonic() - started


def test_frozen_redis_healthz_and_dashboard_answer_in_3_s_and_a_launch_waits_for_it(
    stack, own_redis, operator
):
    own_redis.freeze()
    try:
        health, took = timed_get(httpx.Client(base_url=stack.base_url), "/healthz")
        print(f"/healthz with Redis frozen: {took:.2f} s, {health.json()['down']}")
        assert health.status_code == 503 and "channel_layer" in health.json()["down"]
        assert took <= 3.0
        page, took = timed_get(operator, "/")
        print(f"dashboard with Redis frozen: {took:.2f} s")
        assert page.status_code == 200 and took <= 3.0

        started = time.monotonic()
        response = operator.post("/api/jobs/", json={"cloud": "e2e", "kind": "prechecks"}, timeout=30)
        took = time.monotonic() - started
        print(f"launch with Redis frozen: {response.status_code} in {took:.2f} s")
        assert response.status_code in (201, 503), response.text
        assert took <= 3.0
        if response.status_code == 503:
            return
        job = response.json()
        # Beat's sweep may be trying to start it (running, no worker) before it puts it back.
        now = job_state(operator, job["id"])
        assert now["state"] in ("queued", "running") and now["worker"] == "", now
    finally:
        own_redis.thaw()
    done = wait_for(operator, job["id"], FINISHED, timeout=90)
    assert done["state"] == "succeeded", done["result"]
    assert_events_whole(operator, done)


def test_launch_while_redis_is_down_queues_the_job_and_it_runs_once_redis_returns(stack, own_redis, operator):
    own_redis.stop()
    try:
        started = time.monotonic()
        response = operator.post("/api/jobs/", json={"cloud": "e2e", "kind": "prechecks"}, timeout=30)
        took = time.monotonic() - started
        print(f"launch with Redis down: {response.status_code} in {took:.2f} s")
        assert response.status_code in (201, 503), response.text
        assert took <= 3.0
        if response.status_code == 503:
            return
        job = response.json()
        assert job["state"] == "queued"
    finally:
        own_redis.start()
    back = time.monotonic()
    running = wait_for(operator, job["id"], {"running", *FINISHED}, timeout=60)
    print(f"job started {time.monotonic() - back:.1f} s after Redis returned")
    done = wait_for(operator, running["id"], FINISHED, timeout=90)
    assert done["state"] == "succeeded", done["result"]
    assert done["attempt"] == 1
    assert_events_whole(operator, done)
    assert_no_process_left(stack)


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_redis_fault_during_a_job_loses_no_event(stack, own_redis, operator, fault):
    job = launch(operator, kind="prechecks", params={"lab_slow_seconds": 3})
    wait_for(operator, job["id"], {"running"}, timeout=60)
    poll(lambda: ansible_processes(stack), 60, what="the step's processes")
    own_redis.stop() if fault == "stopped" else own_redis.freeze()
    try:
        done = wait_for(operator, job["id"], FINISHED, timeout=90)
    finally:
        own_redis.start() if fault == "stopped" else own_redis.thaw()
    assert done["state"] == "succeeded", done["result"]
    assert_events_whole(operator, done)
    assert_no_process_left(stack)
    poll(lambda: httpx.get(f"{stack.base_url}/healthz", timeout=10).status_code == 200, 60, 0.5, "healthy")


def test_fifty_simultaneous_mutating_launches_on_one_cloud_run_one_at_a_time(stack, operator):
    results: list[httpx.Response] = []
    lock = threading.Lock()
    gate = threading.Barrier(10)

    def launch_five() -> None:
        client = stack.login("operator")
        gate.wait()
        for _ in range(5):
            response = client.post("/api/jobs/", json={"cloud": "e2e", "kind": "stop", "confirm": True})
            with lock:
                results.append(response)

    threads = [threading.Thread(target=launch_five) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    refused = [r.text for r in results if r.status_code != 201]
    assert len(results) == 50 and not refused, refused
    ids = sorted(r.json()["id"] for r in results)

    # Watch three of them run to the end, one at a time; then cancel the rest, still queued.
    finished: list[dict] = []
    deadline = time.monotonic() + 120
    while len(finished) < 3 and time.monotonic() < deadline:
        page = operator.get("/api/jobs/", params={"cloud": "e2e", "limit": 100}).json()["results"]
        ours = [j for j in page if j["id"] in ids]
        running = [j["id"] for j in ours if j["state"] in ("running", "canceling")]
        assert len(running) <= 1, f"mutating jobs ran together: {running}"
        finished = [j for j in ours if j["state"] in FINISHED]
        time.sleep(0.2)
    assert len(finished) >= 3, "the jobs did not run"
    for job_id in ids:
        operator.post(f"/api/jobs/{job_id}/cancel/")
    jobs = [wait_for(operator, job_id, FINISHED, timeout=60) for job_id in ids]
    ran = sorted(
        (parse_datetime(j["started_at"]), parse_datetime(j["finished_at"])) for j in jobs if j["started_at"]
    )
    # The database lets a second job start only once the first one's end committed; each time is
    # read just before its UPDATE is sent, and the second UPDATE may wait for the first commit.
    # So the times may cross by that wait (milliseconds), never by a run of a job (seconds).
    slack = timedelta(milliseconds=50)
    for (_, first_end), (second_start, _) in itertools.pairwise(ran):
        assert first_end <= second_start + slack, f"mutating jobs overlapped: {ran}"
    assert all(j["state"] in ("succeeded", "canceled") for j in jobs), [j["state"] for j in jobs]
    for job in jobs:
        assert_events_whole(operator, job)
    assert_no_process_left(stack)


def test_cancel_at_random_points_ends_cleanly(stack, operator):
    rng = random.Random(20261203)
    for delay in sorted(rng.uniform(0.0, 8.0) for _ in range(4)):
        job = launch(operator, kind="reconfigure", params={"lab_slow_seconds": 2})
        wait_for(operator, job["id"], {"running", *FINISHED}, timeout=60)
        time.sleep(delay)  # the injected timing of the cancel, not a wait for something
        operator.post(f"/api/jobs/{job['id']}/cancel/")
        done = wait_for(operator, job["id"], FINISHED, timeout=60)
        print(f"cancel {delay:.2f} s after start: {done['state']}")
        assert done["state"] in ("canceled", "succeeded"), done["result"]
        states = [s["state"] for s in done["steps"]]
        assert "running" not in states and "pending" not in states, states
        assert_events_whole(operator, done)
        assert_no_process_left(stack, timeout=5)
