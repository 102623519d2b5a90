"""Event ingest: synthetic ansible-runner events through EventBatcher and JobEventSink into PostgreSQL.

    python -m bench.ingest [--events 100000] [--runs 5] [--hosts 50] [--batch 2000] [--profile]

Each run hands ``--events`` events (about 1 KB each as JSON, counters 1..N, the lab's shape: see
bench/ingest_events.py) to ``runner.events.EventBatcher`` with run_step's settings (batches of up to
2,000, 100 ms), which feeds ``apps.jobs.sink.JobEventSink`` for a fresh Job/Step: one transaction per
batch (skip stored counters, insert, host totals, current task), then the publish to the Redis
channel layer. Timed from the first ``add`` until ``close`` returns and ``live.flush`` has seen every
publish reach Redis, i.e. the last batch is committed and published.

The baseline inserts the same rows (built by the sink's own ``rows``) with a plain
``Event.objects.bulk_create``, one transaction per batch of the same size, in the calling thread:
the ceiling of what a sink built on bulk_create can reach (the sink's first form was one). Sink and
baseline runs alternate; the event table is truncated before each run so every run starts alike.

Wall time depends on what else the machine runs, so CPU time is reported too: this process (all
threads, including the one adding events) and the PostgreSQL backend that did the inserts, in µs per
event. 1 s divided by their sum estimates the rate on an idle machine (client and server take turns).

After each sink run the stored events are checked: exactly ``--events`` rows, counters 1..N without
gap or duplicate, step and job event counts, and host totals equal to what the events imply.

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ferry) in a scratch database,
with the Redis channel layer at REDIS_URL (default redis://127.0.0.1:6379/0), as in production.
``--sink module:Class`` measures another sink with JobEventSink's constructor instead.
Target: ≥ 20,000 events/s end to end.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import os
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass

from bench import ferry_env
from bench.common import machine, scratch_database
from bench.ingest_events import expected_totals, make_events
from runner.events import MAX_BATCH, MAX_DELAY

TARGET = 20_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    seconds: float
    client_cpu: float
    server_cpu: float
    verdict: str = "ok"
    batches: int = 0


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of the PostgreSQL backend ``pid`` (the database runs on this machine)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def load_sink(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=50, help="hosts the events are spread over")
    parser.add_argument("--batch", type=int, default=MAX_BATCH, help="EventBatcher max_batch (run_step's)")
    parser.add_argument("--delay", type=float, default=MAX_DELAY, help="EventBatcher max_delay (run_step's)")
    parser.add_argument("--sink", default="apps.jobs.sink:JobEventSink", help="module:Class of the sink")
    parser.add_argument("--profile", action="store_true", help="cProfile the sink thread of one extra run")
    ferry_env.add_arguments(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as var_dir:
        ferry_env.configure(args, var_dir)
        with scratch_database() as database:
            measure(args, database)


def new_step(cloud) -> tuple:
    """An empty event table and a fresh running Job and Step of ``cloud``, so every run starts alike."""
    from django.db import connection

    from apps.jobs.models import Event, HostSummary, Job, JobState, Step, StepState

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Event._meta.db_table}, {HostSummary._meta.db_table}")
    job = Job.objects.create(cloud=cloud, kind="check", mutating=False, state=JobState.RUNNING)
    step = Step.objects.create(
        job=job, ordinal=1, position=1, name="Check services", action="check", playbook="site.yml",
        state=StepState.RUNNING,
    )  # fmt: skip
    return job, step


def through_sink(
    cloud,
    events: list[dict],
    expected: dict[str, dict[str, int]],
    *,
    sink_class=None,
    batch: int = MAX_BATCH,
    delay: float = MAX_DELAY,
    profile: cProfile.Profile | None = None,
) -> Run:
    """One timed run of ``events`` through EventBatcher into ``sink_class`` (JobEventSink) for a new
    step, first add until the last batch is committed and published, with the stored events checked."""
    from django.db import connection

    from apps.jobs import live
    from apps.jobs.sink import JobEventSink
    from runner.events import EventBatcher

    job, step = new_step(cloud)
    inner = (sink_class or JobEventSink)(job, step)
    backend: list[float] = []  # pid, CPU at the first batch, CPU when the thread ends

    def sink(batch):
        if not backend:
            backend.extend([pid := backend_pid(), backend_cpu(pid)])
        if profile is not None:
            profile.enable()
        try:
            inner(batch)
        finally:
            if profile is not None:
                profile.disable()

    def thread_exit():
        backend.append(backend_cpu(int(backend[0])))
        connection.close()

    batcher = EventBatcher(sink, max_batch=batch, max_delay=delay, on_thread_exit=thread_exit)
    batcher.start()
    cpu, started = time.process_time(), time.perf_counter()
    for event in events:
        batcher.add(event)
    batcher.close(600)
    live.flush(60)  # published, not only queued for the channel layer
    run = Run(time.perf_counter() - started, time.process_time() - cpu, backend[2] - backend[1])
    run.batches = batcher.batches
    run.verdict = check(job, step, len(events), expected)
    if batcher.failures:
        run.verdict += f"; {batcher.failures} sink failures (retried): {batcher.last_error!r}"
    return run


def check(job, step, count: int, expected: dict[str, dict[str, int]]) -> str:
    """What the stored events say: "ok (...)" if counters 1..``count`` once each, counts and totals right."""
    from apps.jobs.models import Event, HostSummary

    counters = list(
        Event.objects.filter(job=job, step=step).order_by("counter").values_list("counter", flat=True)
    )
    problems = []
    if counters != list(range(1, count + 1)):
        distinct = set(counters)
        duplicates, missing = len(counters) - len(distinct), count - len(distinct)
        problems.append(f"{len(counters)} rows, {duplicates} duplicates, {missing} missing")
    job.refresh_from_db()
    step.refresh_from_db()
    if job.event_count != count or step.event_count != count:
        problems.append(f"job.event_count {job.event_count}, step.event_count {step.event_count}")
    totals = {
        h.pop("host"): {k: v for k, v in h.items() if v}
        for h in HostSummary.objects.filter(job=job).values(
            "host", "ok", "changed", "failed", "unreachable", "skipped"
        )
    }
    if totals != expected:
        problems.append("host totals differ from what the events imply")
    return "; ".join(problems) or f"ok ({len(counters)} rows, counters 1..{counters[-1]}, totals match)"


def measure(args: argparse.Namespace, database: str) -> None:
    from django.db import transaction

    from apps.clouds.services import create_cloud
    from apps.jobs.models import Event
    from apps.jobs.sink import JobEventSink

    sink_class = load_sink(args.sink)
    layer = ferry_env.channel_layer()
    cloud = create_cloud(None, slug="bench")
    events = make_events(args.events, args.hosts)
    expected = {host: dict(c) for host, c in expected_totals(events).items()}
    size = statistics.mean(len(json.dumps(e)) for e in events[:5000])

    def sink_run(profile: cProfile.Profile | None = None) -> Run:
        options = {"sink_class": sink_class, "batch": args.batch, "delay": args.delay}
        return through_sink(cloud, events, expected, profile=profile, **options)

    def bulk_baseline() -> Run:
        job, step = new_step(cloud)
        rows = JobEventSink(job, step).rows
        pid = backend_pid()
        server, cpu, started = backend_cpu(pid), time.process_time(), time.perf_counter()
        for i in range(0, len(events), args.batch):
            with transaction.atomic():
                Event.objects.bulk_create([Event(**r._asdict()) for r in rows(events[i : i + args.batch])])
        return Run(time.perf_counter() - started, time.process_time() - cpu, backend_cpu(pid) - server)

    # One warm-up of each (connections, code paths, the channel layer), not counted.
    sink_run()
    bulk_baseline()

    sink_runs: list[Run] = []
    bulk_runs: list[Run] = []
    for i in range(args.runs):
        line = []
        for which in ("sink", "bulk") if i % 2 == 0 else ("bulk", "sink"):
            runs = sink_runs if which == "sink" else bulk_runs
            runs.append(sink_run() if which == "sink" else bulk_baseline())
            line.append(f"{which} {args.events / runs[-1].seconds:,.0f}/s")
        print(
            f"run {i + 1}: {'  '.join(line)}  load {os.getloadavg()[0]:.1f}  check: {sink_runs[-1].verdict}",
            flush=True,
        )

    print()
    print(f"machine: {machine()}; database: {database}; channel layer: {layer}")
    batches = statistics.median(r.batches for r in sink_runs)
    print(
        f"method: {args.events:,} events/run (mean {size:.0f} B as JSON, {args.hosts} hosts), "
        f"{args.runs} runs each, alternating, after one warm-up each; "
        f"EventBatcher(max_batch={args.batch}, max_delay={args.delay}) -> {sink_class.__name__}, "
        f"timed first add -> last batch committed and published ({batches:.0f} batches/run); "
        f"baseline: bulk_create of the sink's rows in {args.batch}-row transactions; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    rates = {}
    for label, runs in ((f"sink ({sink_class.__name__})", sink_runs), ("bulk_create baseline", bulk_runs)):
        rate = [args.events / r.seconds for r in runs]
        client = statistics.median(r.client_cpu for r in runs) * 1e6 / args.events
        server = statistics.median(r.server_cpu for r in runs) * 1e6 / args.events
        rates[label] = statistics.median(rate)
        print(
            f"{label:28s}: median {rates[label]:7,.0f} events/s "
            f"(min {min(rate):,.0f}, max {max(rate):,.0f}); "
            f"cpu {client:.0f} µs/event here + {server:.0f} µs/event in PostgreSQL "
            f"(idle-machine estimate ~{1e6 / (client + server):,.0f} events/s)"
        )
    sink_rate, bulk_rate = rates.values()
    print(f"ratio sink / bulk_create baseline (throughput): {sink_rate / bulk_rate:.2f}")
    exact = all(r.verdict.startswith("ok") for r in sink_runs)
    print("stored exactly once:", "yes, every run" if exact else [r.verdict for r in sink_runs])
    print(f"target (>= {TARGET:,} events/s):", "met" if sink_rate >= TARGET else "NOT met")

    if args.profile:
        profile = cProfile.Profile()
        run = sink_run(profile)
        rate = args.events / run.seconds
        print(f"\nprofile of the sink thread, one more run ({rate:,.0f} events/s while profiled):")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
