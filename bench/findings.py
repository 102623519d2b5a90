"""The job page's findings on a 200,000-event job, with and without their partial index, and its ingest cost.

    python -m bench findings [--events 200000] [--rounds 3] [--calls 15]
                             [--ingest-events 100000] [--ingest-runs 7]

(a) ``apps.jobs.findings.job_findings(job)`` (limit 100) on a failed deploy of ``--events`` events,
stored through ``JobEventSink`` in batches of 2,000: a validate step, a deploy step holding nearly
all the events, a validate step again (the shape of ``--validate-events`` each). The events are
bench/ingest_events.py's kolla-shaped ones; a handful of the deploy's results are failures (some
ignored) and one an unreachable host, spread through it; each validate step has a failed check on a
few hosts and ok results carrying ``ferry_warnings`` spread through it. The table is ANALYZEd
once stored, as autovacuum would. Each round times ``--calls`` calls with the ``event_failures``
partial index, drops it, times as many calls without it and recreates it (rounds alternate which
state comes first; one uncounted call after each change). Reported: the time per call (median over
all calls of a state, min–max), the ratio of the medians, the queries per call, the plan and
server time of the failures query in each state, and whether both states find the same.

(b) The index's cost to ingest: ``bench.ingest.through_sink`` (EventBatcher with run_step's settings
into JobEventSink, first add until the last batch is committed and published, the stored events
checked) of ``--ingest-events`` events with the same handful of failures, with the index present
and dropped, alternating, after one warm-up of each; ratio of the medians with a 90% bootstrap
interval, and the PostgreSQL backend's CPU per event, where index upkeep is paid.

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ferry) in a scratch database,
with the Redis channel layer at REDIS_URL (default redis://127.0.0.1:6379/0), as in production.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from bench import ferry_env
from bench.common import machine, ratio_interval, scratch_database, timed
from bench.ingest import Run, through_sink
from bench.ingest_events import expected_totals, make_events

INDEX = "event_failures"
FAILURES = 8  # failed results spread through the deploy, every third one ignored, plus one unreachable
WARNINGS = 12  # ok results carrying ferry_warnings in each validate step
CHECKS_FAILED = 3  # failed checks in each validate step (ignored, then the step's summary fails)


def fail(event: dict[str, Any], message: str, *, ignored: bool = False, unreachable: bool = False) -> None:
    """Turn an ok result into a failed (or unreachable) one, with the keys a real run stores."""
    data = event["event_data"]
    host = data["host"]
    data["res"] = {"changed": False, "msg": message, "_ansible_no_log": False}
    if unreachable:
        event["event"] = "runner_on_unreachable"
        data["res"]["unreachable"] = True
        data.pop("event_loop", None)
        event["stdout"] = f"fatal: [{host}]: UNREACHABLE! => {message}"
    else:
        event["event"] = "runner_on_failed"
        data["ignore_errors"] = True if ignored else None
        event["stdout"] = f"fatal: [{host}]: FAILED! => {message}" + ("\n...ignoring" if ignored else "")


def ok_results(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "runner_on_ok"]


def deploy_events(count: int, hosts: int) -> list[dict[str, Any]]:
    """A deploy's events with ``FAILURES`` failed results and one unreachable host spread through them."""
    events = make_events(count, hosts)
    oks = ok_results(events)
    for n in range(FAILURES + 1):
        event = oks[(n + 1) * len(oks) // (FAILURES + 2)]
        fail(event, f"container check {n} failed", ignored=n % 3 == 2, unreachable=n == FAILURES)
    return events


def validate_events(count: int, hosts: int) -> list[dict[str, Any]]:
    """A validation's events: failed checks (ignored, then the summary fails the host) and warnings."""
    events = make_events(count, hosts)
    oks = ok_results(events)
    step = len(oks) // (WARNINGS + CHECKS_FAILED + 1)
    for n in range(WARNINGS):
        warning = f"certificate {n}.pem expires in 9 days"
        oks[(n + 1) * step]["event_data"]["res"].update(ferry_warnings=[warning], warnings=[warning])
    for n in range(CHECKS_FAILED):
        fail(oks[(WARNINGS + n + 1) * step], f"check {n} failed", ignored=True)
    fail(oks[-1], f"{CHECKS_FAILED} finding(s)")
    return events


def set_index(present: bool) -> float:
    """Create or drop the partial index as the migration defines it; seconds taken (0 if already so)."""
    from django.db import connection

    from apps.jobs.models import Event

    index = next(i for i in Event._meta.indexes if i.name == INDEX)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [INDEX])
        if bool(cursor.fetchone()) == present:
            return 0.0
    started = time.perf_counter()
    with connection.schema_editor() as editor:
        (editor.add_index if present else editor.remove_index)(Event, index)
    return time.perf_counter() - started


def explain(sql: str) -> tuple[str, float]:
    """The top plan node of ``sql`` (as Django ran it) and its server execution time in ms."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else plan
    nodes, node = [], plan["Plan"]
    while node:
        nodes.append(node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else ""))
        node = (node.get("Plans") or [None])[0]
    return " > ".join(nodes), plan["Execution Time"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=200_000, help="events of the job whose findings are read"
    )
    parser.add_argument("--validate-events", type=int, default=5_000, help="events of each validate step")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of: calls with the index, calls without"
    )
    parser.add_argument("--calls", type=int, default=15, help="timed job_findings calls per state and round")
    parser.add_argument("--ingest-events", type=int, default=100_000)
    parser.add_argument(
        "--ingest-runs", type=int, default=7, help="ingest runs with and without the index each"
    )
    ferry_env.add_arguments(parser)
    args = parser.parse_args()
    if args.events <= 2 * args.validate_events:
        parser.error("--events must exceed twice --validate-events (the deploy step holds the rest)")

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as var_dir:
        ferry_env.configure(args, var_dir)
        with scratch_database() as database:
            if not database.startswith("postgresql"):
                parser.error(
                    "the partial index's cost is PostgreSQL's: set DATABASE_URL to a PostgreSQL server"
                )
            layer = ferry_env.channel_layer()
            print(f"machine: {machine()}; database: {database}; channel layer: {layer}", flush=True)
            findings(args)
            ingest(args)


def findings(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.clouds.services import create_cloud
    from apps.jobs.findings import job_findings
    from apps.jobs.models import Event, Job, JobState, Step
    from apps.jobs.sink import JobEventSink
    from runner.planner import VALIDATE

    cloud = create_cloud(None, slug="findings")
    job = Job.objects.create(cloud=cloud, kind="deploy", mutating=True, state=JobState.FAILED)
    deploy = args.events - 2 * args.validate_events
    started = time.perf_counter()
    for ordinal, (name, action, count) in enumerate(
        [
            ("Validate the cloud before deploying", VALIDATE, args.validate_events),
            ("Deploy 2025.1", "deploy", deploy),
            ("Validate the cloud after deploying", VALIDATE, args.validate_events),
        ],
        start=1,
    ):
        step = Step.objects.create(
            job=job, ordinal=ordinal, position=ordinal, name=name, action=action, playbook="site.yml",
            state="failed",
        )  # fmt: skip
        events = (validate_events if action == VALIDATE else deploy_events)(count, args.hosts)
        sink = JobEventSink(job, step)
        for i in range(0, len(events), 2000):
            sink(events[i : i + 2000])
        del events
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    stored = Event.objects.filter(job=job).count()
    print(
        f"\n(a) job_findings: a job of {stored:,} events (validate {args.validate_events:,}, "
        f"deploy {deploy:,}, validate {args.validate_events:,}; {args.hosts} hosts) stored and analyzed in "
        f"{time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    job = Job.objects.get(pk=job.pk)

    times: dict[bool, list[float]] = {True: [], False: []}
    queries: dict[bool, list[int]] = {True: [], False: []}
    plans: dict[bool, list[list[tuple[str, float]]]] = {True: [], False: []}  # per round, per query
    found: dict[bool, list] = {}
    rebuilds: list[float] = []
    for round_no in range(args.rounds):
        for present in (True, False) if round_no % 2 == 0 else (False, True):
            took = set_index(present)
            if present and took:
                rebuilds.append(took)
            found[present] = job_findings(job)  # uncounted: caches, plans
            with CaptureQueriesContext(connection) as captured:
                job_findings(job)
            queries[present].append(len(captured.captured_queries))
            plans[present].append([explain(q["sql"]) for q in captured.captured_queries])
            times[present].extend(timed(lambda: job_findings(job), args.calls))
        with_, without = (statistics.median(times[p][-args.calls :]) * 1e3 for p in (True, False))
        print(
            f"round {round_no + 1}: with the index median {with_:.1f} ms, without {without:.1f} ms; "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    set_index(True)

    kinds = {}
    for f in found[True]:
        kinds[f.severity] = kinds.get(f.severity, 0) + 1
    print(
        f"findings: {len(found[True])} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
        f"the same without the index: {'yes' if found[True] == found[False] else 'NO'}"
    )
    medians = {}
    for present, label in ((True, "with the partial index"), (False, "index dropped (baseline)")):
        t = times[present]
        medians[present] = statistics.median(t)
        print(
            f"{label:26s}: median {medians[present] * 1e3:8.2f} ms per call "
            f"(min {min(t) * 1e3:.2f}, max {max(t) * 1e3:.2f}, n={len(t)}); "
            f"queries per call {sorted(set(queries[present]))}"
        )
        for n, what in enumerate(("steps", "failures", "warnings")):
            server = statistics.median(plan[n][1] for plan in plans[present])
            shape = plans[present][0][n][0]
            print(f"    {what} query: {server:7.2f} ms in PostgreSQL (EXPLAIN ANALYZE, median); {shape}")
    low, high = ratio_interval(times[False], times[True])
    rebuilt = ""
    if rebuilds:
        rebuilt = f"; index rebuilt in {statistics.median(rebuilds) * 1e3:.0f} ms (median of {len(rebuilds)})"
    print(
        f"ratio without / with the index (time per call): {medians[False] / medians[True]:.1f} "
        f"(90% bootstrap interval {low:.1f}–{high:.1f}){rebuilt}"
    )


def ingest(args: argparse.Namespace) -> None:
    from apps.clouds.services import create_cloud

    cloud = create_cloud(None, slug="ingest")
    events = deploy_events(args.ingest_events, args.hosts)
    expected = {host: dict(c) for host, c in expected_totals(events).items()}
    print(
        f"\n(b) ingest: {len(events):,} events/run ({FAILURES + 1} of them failed or unreachable), "
        f"bench.ingest.through_sink, {args.ingest_runs} runs each, alternating, after one warm-up each",
        flush=True,
    )
    runs: dict[bool, list[Run]] = {True: [], False: []}
    for present in (True, False):  # warm-up
        set_index(present)
        through_sink(cloud, events, expected)
    for i in range(args.ingest_runs):
        line = []
        for present in (True, False) if i % 2 == 0 else (False, True):
            set_index(present)
            runs[present].append(through_sink(cloud, events, expected))
            line.append(
                f"{'with' if present else 'without'} {len(events) / runs[present][-1].seconds:,.0f}/s"
            )
        print(f"run {i + 1}: {'  '.join(line)}  load {os.getloadavg()[0]:.1f}", flush=True)
    set_index(True)

    rates = {}
    for present, label in ((True, "with the partial index"), (False, "index dropped (baseline)")):
        rate = [len(events) / r.seconds for r in runs[present]]
        rates[present] = rate
        client = statistics.median(r.client_cpu for r in runs[present]) * 1e6 / len(events)
        server = statistics.median(r.server_cpu for r in runs[present]) * 1e6 / len(events)
        print(
            f"{label:26s}: median {statistics.median(rate):7,.0f} events/s "
            f"(min {min(rate):,.0f}, max {max(rate):,.0f}); "
            f"cpu {client:.1f} µs/event here + {server:.1f} µs/event in PostgreSQL"
        )
    low, high = ratio_interval(rates[True], rates[False])
    ratio = statistics.median(rates[True]) / statistics.median(rates[False])
    interval = f"90% bootstrap interval {low:.3f}–{high:.3f}"
    print(f"ratio with / without the index (throughput): {ratio:.3f} ({interval})")
    server = {present: [r.server_cpu for r in runs[present]] for present in runs}
    low, high = ratio_interval(server[True], server[False])
    ratio = statistics.median(server[True]) / statistics.median(server[False])
    interval = f"90% bootstrap interval {low:.3f}–{high:.3f}"
    print(f"ratio with / without the index (PostgreSQL CPU per event): {ratio:.3f} ({interval})")
    verdicts = [r.verdict for side in runs.values() for r in side]
    exact = all(v.startswith("ok") for v in verdicts)
    print("stored exactly once:", "yes, every run" if exact else verdicts)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
