"""Latency of live job output: from an event's creation in the worker to its arrival in WebSocket clients.

    python -m bench.live_latency [--rates 500 2000] [--clients 1 20] [--seconds 25] [--warmup 3] [--runs 3]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults postgresql://postgres@127.0.0.1:5432/ferry
and redis://127.0.0.1:6379/0). Method: starts Ferry in production shape with tests.e2e.stack.Stack
(daphne, celery worker and beat; a database of its own, Redis database ``--redis-db``). Per
configuration a separate producer process (the worker's role, same environment as the stack) makes
a running job and step, beats its heartbeat like the worker's JobControl thread, and feeds synthetic
kolla-shaped events (bench/live_events.py) at a fixed rate through runner.events.EventBatcher (run_step's
defaults: 2,000 events or 100 ms) into apps.jobs.sink.JobEventSink, stamping each event's ``created``
(UTC, microseconds) as it is added. N clients logged in as operator hold ``/ws/jobs/<id>/`` open
and take arrival − created for every event. The first ``--warmup`` seconds of events are left out.
Each client's sequence must be every produced seq exactly once, in order.
Target: p99 ≤ 250 ms at 2,000 events/s with 20 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from bench.common import machine
from bench.stack_tools import (
    child,
    cpu_seconds,
    machine_cpu,
    percentile,
    read_json,
    running_stack,
    say,
    setup_child_django,
    spread,
)

HOSTS = 50


# --- producer: the worker's side, in its own process --------------------------------------------------
def produce(rate: float, seconds: float, hosts: int) -> None:
    """Make a running job, wait for "go" on stdin, feed events at ``rate`` for ``seconds``, report."""
    setup_child_django()
    from django.utils import timezone

    import apps.jobs.sink as sink_module
    from apps.clouds.models import Cloud
    from apps.clouds.services import create_cloud
    from apps.jobs.execution import JobControl
    from apps.jobs.live import publish
    from apps.jobs.models import Event, Job, JobState, Step, StepState
    from apps.jobs.services import transition
    from apps.jobs.sink import JobEventSink
    from bench.live_events import now_iso, stream
    from runner.events import EventBatcher

    cloud = Cloud.objects.filter(slug="bench").first() or create_cloud(None, slug="bench")
    now = timezone.now()
    job = Job.objects.create(
        cloud=cloud,
        kind="check",
        mutating=False,
        state=JobState.RUNNING,
        queued_at=now,
        started_at=now,
        heartbeat_at=now,
        worker="bench-producer",
        current_step=1,
    )
    step = Step.objects.create(
        job=job,
        ordinal=1,
        position=1,
        name="check",
        action="check",
        playbook="site.yml",
        state=StepState.RUNNING,
        started_at=now,
    )
    say({"job": job.pk, "step": step.pk, "base": step.ordinal * Event.SEQ_STEP})
    sys.stdin.readline()  # "go": every client is live
    cpu_begun = time.process_time()

    published = {}  # when the events of the current batch were handed to the channel layer, wall clock
    real_publish = sink_module.publish

    def timed_publish(job_id, message):
        started = time.time()
        real_publish(job_id, message)
        if message["kind"] == "events":
            published.update(start=started, end=time.time())

    sink_module.publish = timed_publish
    sink = JobEventSink(job, step)
    # Per batch: first and last counter; sink called, events publish begun and done, sink returned.
    batches = []

    def timed_sink(batch):
        published.clear()
        started = time.time()
        sink(batch)
        ended = time.time()
        first, last = batch[0]["counter"], batch[-1]["counter"]
        begun, done = published.get("start", ended), published.get("end", ended)
        batches.append((first, last, started, begun, done, ended))

    control = JobControl(job.pk)
    control.start()
    batcher = EventBatcher(timed_sink).start()  # the defaults run_step uses
    events = stream(hosts)
    sent = 0
    begun_wall, begun = time.time(), time.monotonic()
    late = 0.0
    while True:
        elapsed = time.monotonic() - begun
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        late = max(late, (due - sent) / rate)
        while sent < due:
            event = next(events)
            event["created"] = now_iso()
            batcher.add(event)
            sent += 1
        time.sleep(0.001)
    batcher.close(120)
    control.stop()
    transition(job, JobState.SUCCEEDED, finished_at=timezone.now())
    publish(job.pk, {"kind": "job", "state": JobState.SUCCEEDED, "result": ""})
    cpu = time.process_time() - cpu_begun
    say({"sent": sent, "begun": begun_wall, "batches": batches, "producer_lag": late, "cpu": cpu})


# --- clients ------------------------------------------------------------------------------------------
@dataclass
class Client:
    seqs: array = field(default_factory=lambda: array("q"))
    created: array = field(default_factory=lambda: array("d"))
    arrived: array = field(default_factory=lambda: array("d"))
    other: int = 0
    error: str | None = None


async def watch(url: str, headers: dict, client: Client, live: asyncio.Event, timeout: float) -> None:
    from websockets.asyncio.client import connect

    fromiso = datetime.fromisoformat
    try:
        async with connect(url, additional_headers=headers, max_size=None, open_timeout=30) as ws:
            while True:
                raw = await asyncio.wait_for(ws.recv(), timeout)
                now = time.time()
                message = json.loads(raw)
                kind = message["kind"]
                if kind == "events":
                    for e in message["events"]:
                        client.seqs.append(e["seq"])
                        client.created.append(fromiso(e["created"]).timestamp())
                        client.arrived.append(now)
                elif kind == "live":
                    live.set()
                elif kind == "job" and message["state"] == "succeeded":
                    return
                else:
                    client.other += 1
    except Exception as exc:
        client.error = repr(exc)
        live.set()


async def run_clients(stack, headers, job_id: int, n: int, producer, timeout: float) -> list[Client]:
    clients = [Client() for _ in range(n)]
    lives = [asyncio.Event() for _ in range(n)]
    url = f"{stack.ws_url}/ws/jobs/{job_id}/?after=0"
    tasks = [
        asyncio.create_task(watch(url, headers, c, live, timeout))
        for c, live in zip(clients, lives, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in lives)), 60)
    producer.stdin.write("go\n")
    producer.stdin.flush()
    await asyncio.gather(*tasks)
    return clients


# --- one configuration --------------------------------------------------------------------------------
def one_run(stack, headers, rate: int, n: int, args) -> dict:
    producer = child(
        stack, "bench.live_latency", "--producer", "--rate", str(rate), "--seconds", str(args.seconds)
    )
    info = read_json(producer)
    web = stack.pid("web")
    before = (cpu_seconds(web), time.process_time(), machine_cpu())
    clients = asyncio.run(run_clients(stack, headers, info["job"], n, producer, timeout=args.seconds + 60))
    after = (cpu_seconds(web), time.process_time(), machine_cpu())
    report = read_json(producer)
    producer.wait(30)
    wall = after[2][1] - before[2][1]

    base, sent = info["base"], report["sent"]
    expected = list(range(base + 1, base + sent + 1))
    complete = all(c.error is None and list(c.seqs) == expected for c in clients)
    duplicates = sum(len(c.seqs) - len(set(c.seqs)) for c in clients)
    ordered = all(all(a < b for a, b in itertools.pairwise(c.seqs)) for c in clients)

    # Each event's latency split at its batch's timestamps: (created →) sink called → events publish
    # begun → publish done (→ arrival).
    batches = sorted(report["batches"], key=lambda b: b[1])
    lasts = [base + b[1] for b in batches]
    cutoff = report["begun"] + args.warmup
    stages = {name: [] for name in ("total", "batcher", "sink_db", "publish", "delivery")}
    for c in clients:
        for seq, created, arrived in zip(c.seqs, c.created, c.arrived, strict=True):
            if created < cutoff:
                continue
            b = batches[min(bisect_right(lasts, seq - 1), len(batches) - 1)]
            stages["total"].append(arrived - created)
            stages["batcher"].append(b[2] - created)
            stages["sink_db"].append(b[3] - b[2])
            stages["publish"].append(b[4] - b[3])
            stages["delivery"].append(arrived - b[4])
    result = {"rate": rate, "clients": n, "sent": sent, "measured": len(stages["total"])}
    for name, values in stages.items():
        values.sort()
        for q in (50, 95, 99):
            result[f"{name}_p{q}"] = percentile(values, q)
    result["max"] = stages["total"][-1] if stages["total"] else float("nan")
    result.update(
        batch_size=statistics.median(b[1] - b[0] + 1 for b in batches),
        complete=complete,
        ordered=ordered,
        duplicates=duplicates,
        errors=[c.error for c in clients if c.error],
        producer_lag=report["producer_lag"],
        cpu_web=(after[0] - before[0]) / wall,
        cpu_producer=report["cpu"] / wall,
        cpu_per_event=report["cpu"] / max(1, sent),
        cpu_clients=(after[1] - before[1]) / wall,
        cpu_machine=(after[2][0] - before[2][0]) / wall,
    )
    return result


def ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[500, 2000], help="events per second")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--seconds", type=float, default=25.0, help="events are produced this long per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of events left out at the start")
    parser.add_argument("--runs", type=int, default=3, help="runs of every configuration")
    parser.add_argument("--hosts", type=int, default=HOSTS)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--producer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.producer:
        produce(args.rate, args.seconds, args.hosts)
        return

    results: dict[tuple[int, int], list[dict]] = {}
    with running_stack(args.redis_db) as stack:
        http = stack.login("operator")
        headers = stack.ws_headers(http)
        for run in range(args.runs):
            for rate in args.rates:
                for n in args.clients:
                    r = one_run(stack, headers, rate, n, args)
                    results.setdefault((rate, n), []).append(r)
                    print(
                        f"  run {run + 1}: {rate}/s × {n:>2} clients: p50 {ms(r['total_p50'])} ms, "
                        f"p95 {ms(r['total_p95'])} ms, p99 {ms(r['total_p99'])} ms, max {ms(r['max'])} ms; "
                        f"{r['sent']} events, every one once and in order: {r['complete'] and r['ordered']}; "
                        f"machine busy {r['cpu_machine']:.1f} of 2 cores",
                        flush=True,
                    )

    print()
    print(
        f"machine: {machine()}; PostgreSQL + Redis on loopback; daphne, celery worker + beat running; "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    print(
        f"method: {args.seconds:.0f} s of events per run, first {args.warmup:.0f} s left out, "
        f"{args.runs} runs per configuration, {args.hosts} hosts; figures are the median over runs "
        "(min–max) of each run's percentile over all clients' events"
    )
    columns = f"{'p50':<14} {'p95':<16} {'p99':<16} {'max':<16}"
    print(f"{'rate/s':>6}  {'clients':>7}   {columns} every event once, in order")
    for (rate, n), rs in results.items():
        ok = all(r["complete"] and r["ordered"] and not r["duplicates"] for r in rs)
        cells = [spread([r[k] for r in rs]) for k in ("total_p50", "total_p95", "total_p99", "max")]
        print(
            f"{rate:>6}  {n:>7}   {cells[0]:<14} {cells[1]:<16} {cells[2]:<16} {cells[3]:<16} "
            f"{'yes' if ok else 'NO'}"
        )
    print()
    print(
        "where the time goes, p50 / p99 in ms (medians over runs): created → sink called (batcher) | "
        "→ events publish begun (sink: rows, insert, host totals, commit) | → publish returned (handed "
        "to the publishing thread) | → arrival (channel layer send, Redis → daphne consumer → WebSocket "
        "→ client); CPU in cores"
    )
    for (rate, n), rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], int | float)}
        parts = " | ".join(
            f"{name} {ms(med[name + '_p50'])} / {ms(med[name + '_p99'])}"
            for name in ("batcher", "sink_db", "publish", "delivery")
        )
        print(
            f"{rate:>6}/s × {n:>2}: {parts}; batch {med['batch_size']:.0f} events; producer "
            f"{med['cpu_per_event'] * 1e6:.0f} µs CPU per event, at most {ms(med['producer_lag'])} ms behind "
            f"schedule; CPU daphne {med['cpu_web']:.2f}, producer {med['cpu_producer']:.2f}, clients "
            f"{med['cpu_clients']:.2f}, whole machine {med['cpu_machine']:.2f}"
        )
        for r in rs:
            if r["errors"] or not r["complete"]:
                errors, dups = r["errors"][:3], r["duplicates"]
                print(f"    incomplete run: sent {r['sent']}, errors {errors}, duplicates {dups}")
    key = (2000, 20)
    if key in results:
        p99 = statistics.median(r["total_p99"] for r in results[key])
        verdict = "met" if p99 <= 0.25 else "NOT met"
        print(f"target (p99 ≤ 250 ms at 2,000 events/s with 20 clients): {verdict} ({p99 * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
