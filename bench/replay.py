"""Replay of a finished 200,000-event job: to a new WebSocket client, and on its job page in a real browser.

    python -m bench.replay [--events 200000] [--steps 4] [--runs 5] [--browser-runs 5] [--skip-browser]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL; defaults as bench.live_latency) and chromium at
/usr/bin/chromium (FERRY_CHROMIUM) for the page. Method: starts Ferry in production shape with
tests.e2e.stack.Stack (daphne, celery worker and beat; its own database, Redis database
``--redis-db``). A child process with the stack's environment stores a succeeded job of ``--steps``
steps holding ``--events`` synthetic kolla-shaped events (bench/live_events.py; through the worker's
JobEventSink in batches of its largest size, then ANALYZE), as a worker would have left it.

(a) A WebSocket client logged in as operator connects to ``/ws/jobs/<id>/?after=0`` and is timed
    from before the handshake until the event with the job's last seq arrives; every event must
    come once, in order. Target: ≤ 3 s. The consumer's server-side work per chunk (query, payload
    dicts, JSON encoding) is timed separately in a child process calling the consumer's own helper.
(b) Headless chromium (playwright, a fresh context with the operator's session cookie per run, so
    a cold cache) opens ``/jobs/<id>/``. An init script records, from navigation start
    (performance.timeOrigin): the first log lines in ``#log-lines`` (a MutationObserver; the next
    animation frame is when they were painted), WebSocket messages, the frame in which
    ``ferryLog.lastSeq`` reaches the last seq (all events loaded), long tasks, JS heap. Then
    scrolling: 20 jumps of scrollTop to places across the log, each timed until the frame after
    the right lines are drawn, and 120 frames of smooth scrolling (10 lines a frame), frame gaps
    timed. The page is then opened once more in the same context (assets from the HTTP cache).
    Target: first lines ≤ 300 ms.

When the server fails (e.g. closes the socket), the runs say so, with what daphne logged.
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

from bench.common import machine
from bench.stack_tools import child, read_json, running_stack, say, setup_child_django, spread

CHROMIUM = os.environ.get("FERRY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# --- the stored job, made in a child process with the stack's environment ----------------------------
def store_job(total: int, steps: int, hosts: int) -> None:
    """A succeeded job with ``total`` events over ``steps`` steps, stored as the sink leaves them."""
    setup_child_django()
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from apps.clouds.models import Cloud
    from apps.clouds.services import create_cloud
    from apps.jobs.models import Event, Job, JobState, Step, StepState
    from apps.jobs.sink import JobEventSink
    from bench.live_events import stream
    from runner.events import MAX_BATCH

    started = time.perf_counter()
    cloud = Cloud.objects.filter(slug="replay").first() or create_cloud(None, slug="replay")
    begun = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    job = Job.objects.create(
        cloud=cloud,
        kind="deploy",
        mutating=True,
        state=JobState.RUNNING,
        queued_at=begun,
        started_at=begun,
        worker="bench",
        current_step=steps,
    )
    per_step = [total // steps + (1 if i < total % steps else 0) for i in range(steps)]
    lines = 0
    last_seq = 0
    for ordinal, count in enumerate(per_step, start=1):
        step = Step.objects.create(
            job=job,
            ordinal=ordinal,
            position=ordinal,
            name=f"deploy part {ordinal}",
            action="deploy",
            playbook="site.yml",
            state=StepState.SUCCEEDED,
            rc=0,
            started_at=begun,
            finished_at=begun,
        )
        # Stored by the worker's own sink (COPY, host totals, counts), in its largest batches.
        sink = JobEventSink(job, step)
        events = stream(hosts, created_from=begun + timedelta(minutes=ordinal))
        for first in range(0, count, MAX_BATCH):
            batch = [next(events) for _ in range(min(MAX_BATCH, count - first))]
            lines += sum(e["stdout"].count("\n") + 1 for e in batch if e["stdout"])
            sink(batch)
        last_seq = ordinal * Event.SEQ_STEP + count
    Job.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED, finished_at=begun + timedelta(hours=1), result="All steps succeeded."
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    stored = Event.objects.filter(job=job).count()
    say(
        {
            "job": job.pk,
            "events": stored,
            "last_seq": last_seq,
            "lines": lines,
            "seconds": time.perf_counter() - started,
        }
    )


def profile_consumer(job_id: int) -> None:
    """Time the consumer's replay work per chunk, split as ``JobConsumer._send_from_database`` does it."""
    setup_child_django()
    from apps.jobs import consumers
    from apps.jobs.live import stored_payloads, stored_payloads_json

    # The earlier way, for comparison: ORM rows, payload dicts in Python, one json.dumps per chunk.
    build = encode = 0.0
    chunks = size = after = 0
    while True:
        t0 = time.perf_counter()
        events = stored_payloads(job_id, after, None, consumers.REPLAY_CHUNK)
        t1 = time.perf_counter()
        text = json.dumps({"kind": "events", "events": events})
        t2 = time.perf_counter()
        if not events:
            break
        build, encode = build + t1 - t0, encode + t2 - t1
        chunks += 1
        size += len(text.encode())
        after = events[-1]["seq"]
        if len(events) < consumers.REPLAY_CHUNK:
            break
    # What the consumer does: payload JSON made by the database, joined into frames.
    t0 = time.perf_counter()
    after = 0
    while True:
        rows = stored_payloads_json(job_id, after, None, consumers.REPLAY_CHUNK)
        if not rows:
            break
        consumers.json_frames([text for _, text in rows])
        after = rows[-1][0]
        if len(rows) < consumers.REPLAY_CHUNK:
            break
    helper_total = time.perf_counter() - t0
    say(
        {
            "chunks": chunks,
            "bytes": size,
            "build": build,
            "encode": encode,
            "helper_total": helper_total,
        }
    )


# --- (a) a new WebSocket client ----------------------------------------------------------------------
async def replay_once(url: str, headers: dict, last_seq: int) -> dict:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    started = time.perf_counter()
    marks: dict[str, float] = {}
    parse = 0.0
    seqs: list[int] = []
    messages = 0
    received = 0
    failure = None
    async with connect(url, additional_headers=headers, max_size=None, open_timeout=30) as ws:
        marks["open"] = time.perf_counter() - started
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), 60)
            except ConnectionClosed as exc:
                failure = f"server closed the socket: {exc}"
                break
            now = time.perf_counter()
            received += len(raw)
            messages += 1
            message = json.loads(raw)
            parse += time.perf_counter() - now
            kind = message["kind"]
            marks.setdefault(kind, now - started)
            if kind == "events":
                seqs.extend(e["seq"] for e in message["events"])
                if seqs[-1] >= last_seq:
                    marks["complete"] = time.perf_counter() - started
                    break
    ordered = all(a < b for a, b in itertools.pairwise(seqs))
    return {
        **marks,
        "failure": failure,
        "parse": parse,
        "messages": messages,
        "bytes": received,
        "count": len(seqs),
        "ordered": ordered,
        "unique": len(set(seqs)) == len(seqs),
    }


# --- (b) the job page in chromium ------------------------------------------------------------------
INIT_SCRIPT = """
(() => {
  const LAST = %(last)d;
  const t = (window.__bench = { messages: [], longTotal: 0, longMax: 0, longCount: 0 });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        t.longTotal += e.duration; t.longCount += 1; t.longMax = Math.max(t.longMax, e.duration);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    t.wsCreated = performance.now();
    ws.addEventListener("open", () => { t.wsOpen = performance.now(); });
    ws.addEventListener("message", (m) => {
      if (t.messages.length < 5) t.messages.push([performance.now(), m.data.length]);
      t.wsLast = performance.now();
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  new MutationObserver((_, observer) => {
    const pre = document.getElementById("log-lines");
    if (pre && pre.children.length > 0) {  // drawn by the server (first screen) or by joblog.js
      t.firstLines = performance.now();
      t.firstLineCount = pre.children.length;
      requestAnimationFrame(() => { t.firstFrame = performance.now(); });
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
  const watch = () => {
    if (window.ferryLog && window.ferryLog.lastSeq >= LAST) {
      t.allLoaded = performance.now();
      requestAnimationFrame(() => requestAnimationFrame(() => { t.allDrawn = performance.now(); }));
      return;
    }
    requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
})();
"""

SCROLL_SCRIPT = """
async () => {
  const LINE = 18;
  const box = document.getElementById("log");
  const pre = document.getElementById("log-lines");
  document.getElementById("log-follow").checked = false;  // what a wheel or key scroll does
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame(); await frame();
  const max = box.scrollHeight - box.clientHeight;
  const jumps = [];
  let misses = 0;
  let seed = 7;
  for (let i = 0; i < 20; i++) {
    seed = (seed * 48271) % 2147483647;
    const y = Math.floor((seed / 2147483647) * max);
    const started = performance.now();
    box.scrollTop = y;
    const first = Math.max(0, Math.floor(box.scrollTop / LINE) - 10);
    const want = String(window.ferryLog.lines[first].seq);
    const drawn = () => pre.firstElementChild && pre.firstElementChild.dataset.seq === want
      && Math.abs(parseFloat(pre.style.top) - first * LINE) <= 1 + first * LINE * 1e-5;
    let frames = 0;
    while (!drawn() && frames < 60) { await frame(); frames++; }
    if (!drawn()) misses++;
    await frame();  // the frame after the draw: painted
    jumps.push(performance.now() - started);
  }
  const gaps = [];
  box.scrollTop = Math.floor(max / 3);
  await frame();
  let last = performance.now();
  for (let i = 0; i < 120; i++) {
    box.scrollTop += 10 * LINE;
    await frame();
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  const firstShown = Number(pre.firstElementChild && pre.firstElementChild.dataset.seq);
  return { jumps, gaps, misses, firstShown, top: pre.style.top, scrollTop: box.scrollTop,
           heap: performance.memory ? performance.memory.usedJSHeapSize : null };
}
"""


def page_once(browser, stack, cookies: list[dict], job_id: int, last_seq: int, lines: int) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(cookies)
    page = context.new_page()
    page.add_init_script(INIT_SCRIPT % {"last": last_seq})
    page.goto(f"{stack.base_url}/jobs/{job_id}/", wait_until="commit")
    try:
        page.wait_for_function("window.__bench && window.__bench.firstFrame", timeout=30_000, polling=100)
        page.wait_for_function("window.__bench.allDrawn", timeout=300_000, polling=200)
    except PlaywrightTimeout:
        failure = {
            "failure": "timed out",
            "connection": page.evaluate("document.getElementById('log-connection').textContent"),
            "shown": page.evaluate("window.ferryLog ? window.ferryLog.lines.length : 0"),
            "expected_lines": lines,
        }
        context.close()
        return failure
    bench = page.evaluate("window.__bench")
    nav = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {responseStart: n.responseStart, responseEnd: n.responseEnd,"
        " domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
        " assets: Math.max(0, ...performance.getEntriesByType('resource')"
        "   .filter((r) => r.initiatorType !== 'fetch').map((r) => r.responseEnd))}; })()"
    )
    shown = page.evaluate("window.ferryLog.lines.length")
    state = page.evaluate("document.getElementById('job-state').textContent")
    scroll = page.evaluate(SCROLL_SCRIPT)
    page.close()
    # The same page again in the same context: assets come from the HTTP cache, as for a returning user.
    page = context.new_page()
    page.add_init_script(INIT_SCRIPT % {"last": last_seq})
    page.goto(f"{stack.base_url}/jobs/{job_id}/", wait_until="commit")
    page.wait_for_function("window.__bench && window.__bench.firstFrame", timeout=30_000, polling=100)
    page.wait_for_function("window.__bench.allDrawn", timeout=300_000, polling=200)
    warm = page.evaluate("window.__bench")
    context.close()
    return {
        **bench,
        **nav,
        "shown": shown,
        "expected_lines": lines,
        "state": state,
        **scroll,
        "warm_firstFrame": warm["firstFrame"],
        "warm_allLoaded": warm["allLoaded"],
    }


def percentile_of(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5, help="WebSocket replays")
    parser.add_argument("--browser-runs", type=int, default=5, help="page loads")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--store", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-job", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store:
        store_job(args.events, args.steps, args.hosts)
        return
    if args.profile_job:
        profile_consumer(args.profile_job)
        return

    with running_stack(args.redis_db) as stack:
        maker = child(
            stack,
            "bench.replay",
            "--store",
            "--events",
            str(args.events),
            "--steps",
            str(args.steps),
            "--hosts",
            str(args.hosts),
        )
        job = read_json(maker)
        maker.wait(60)
        print(
            f"stored job #{job['job']}: {job['events']} events, {job['lines']} log lines, in "
            f"{job['seconds']:.1f} s",
            flush=True,
        )
        http = stack.login("operator")
        headers = stack.ws_headers(http)
        url = f"{stack.ws_url}/ws/jobs/{job['job']}/?after=0"

        ws_runs = []
        for i in range(args.runs):
            r = asyncio.run(replay_once(url, headers, job["last_seq"]))
            ws_runs.append(r)
            if r["failure"]:
                print(f"  websocket run {i + 1}: FAILED after {r['count']} events: {r['failure']}")
                continue
            print(
                f"  websocket run {i + 1}: complete in {r['complete']:.2f} s, first events at "
                f"{r['events']:.3f} s, {r['messages']} messages, {r['bytes'] / 1e6:.1f} MB, client JSON "
                f"parse {r['parse']:.2f} s",
                flush=True,
            )
        profiler = child(stack, "bench.replay", "--profile-job", str(job["job"]))
        prof = read_json(profiler)
        profiler.wait(60)

        page_runs = []
        if not args.skip_browser:
            from playwright.sync_api import sync_playwright

            cookies = [{"name": k, "value": v, "url": stack.base_url} for k, v in http.cookies.items()]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                for i in range(args.browser_runs):
                    r = page_once(browser, stack, cookies, job["job"], job["last_seq"], job["lines"])
                    page_runs.append(r)
                    if r.get("failure"):
                        print(
                            f"  page run {i + 1}: FAILED ({r['failure']}): {r['shown']} of "
                            f"{r['expected_lines']} lines shown, status {r['connection']!r}",
                            flush=True,
                        )
                        continue
                    print(
                        f"  page run {i + 1}: first lines {r['firstLines']:.0f} ms (painted by "
                        f"{r['firstFrame']:.0f} ms), all loaded {r['allLoaded'] / 1000:.2f} s, "
                        f"lines {r['shown']}/{r['expected_lines']}, scroll jump median "
                        f"{statistics.median(r['jumps']):.0f} ms",
                        flush=True,
                    )
                browser.close()
        server_errors = daphne_errors(stack.var_dir / "web.log")

    report(args, job, ws_runs, prof, page_runs, server_errors)


def daphne_errors(path) -> list[str]:
    """Distinct exceptions daphne logged, each with the innermost application frame it came from."""
    lines = path.read_text(errors="replace").splitlines()
    found = {}
    for i, line in enumerate(lines):
        if " ERROR daphne" not in line:
            continue
        frames = []
        for following in lines[i + 1 : i + 200]:
            if following[:4].isdigit() or following.startswith("127.0.0.1"):
                break
            if following.strip().startswith('File "'):
                frames.append(following.strip())
        ours = [f for f in frames if "/apps/" in f or "/portal/" in f]
        where = " ← ".join(f.removeprefix("File ") for f in ([*ours[-1:], *frames[-2:]] if frames else []))
        found.setdefault(line.split(" ", 3)[-1], where)
    return [f"{message}  [{where}]" if where else message for message, where in sorted(found.items())]


def report(
    args, job: dict, ws_runs: list[dict], prof: dict, page_runs: list[dict], server_errors: list[str]
) -> None:
    print()
    print(
        f"machine: {machine()}; PostgreSQL + Redis on loopback; daphne, celery worker + beat running; "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    print(
        f"job: {job['events']:,} events over {args.steps} steps, {args.hosts} hosts, {job['lines']:,} log "
        f"lines; stored in {job['seconds']:.1f} s (through JobEventSink)"
    )
    report_websocket(job, ws_runs, prof)
    report_page(page_runs)
    for line in server_errors:
        print(f"daphne logged: {line}")


def report_websocket(job: dict, ws_runs: list[dict], prof: dict) -> None:
    failed = [r for r in ws_runs if r["failure"]]
    if failed:
        print(f"(a) WebSocket replay FAILED in {len(failed)} of {len(ws_runs)} runs: {failed[0]['failure']}")
        print(f"    events received before that: {sorted(r['count'] for r in failed)}")
    ws_runs = [r for r in ws_runs if not r["failure"]]
    if ws_runs:
        complete = all(r["count"] == job["events"] and r["ordered"] and r["unique"] for r in ws_runs)
        print(f"(a) WebSocket replay from after=0, {len(ws_runs)} runs, median (min–max):")
        print(f"    handshake + auth        {spread([r['open'] for r in ws_runs])}")
        print(f"    snapshot                {spread([r['snapshot'] for r in ws_runs])}")
        print(f"    first events message    {spread([r['events'] for r in ws_runs])}")
        print(f"    last event arrived      {spread([r['complete'] for r in ws_runs], 's', 1, 2)}")
        print(f"    of which client parsing {spread([r['parse'] for r in ws_runs], 's', 1, 2)}")
        print(
            f"    {statistics.median(r['messages'] for r in ws_runs):.0f} messages, "
            f"{statistics.median(r['bytes'] for r in ws_runs) / 1e6:.1f} MB; every event once, in order: "
            f"{'yes' if complete else 'NO'}"
        )
        print(
            f"    server side for one replay ({prof['chunks']} chunks, one process, no network): "
            f"payloads made in the database and framed (what the consumer does) "
            f"{prof['helper_total']:.2f} s; the earlier way, rows and payload dicts in Python "
            f"{prof['build']:.2f} s + json.dumps {prof['encode']:.2f} s ({prof['bytes'] / 1e6:.1f} MB)"
        )
        ws_median = statistics.median(r["complete"] for r in ws_runs)
        print(f"    target (≤ 3 s): {'met' if ws_median <= 3 else 'NOT met'} ({ws_median:.2f} s)")


def report_page(page_runs: list[dict]) -> None:
    failed = [r for r in page_runs if r.get("failure")]
    if failed:
        print(
            f"(b) job page FAILED in {len(failed)} of {len(page_runs)} runs: no log line within 30 s; lines "
            f"shown {[r['shown'] for r in failed]}, status {failed[0]['connection']!r}"
        )
    page_runs = [r for r in page_runs if not r.get("failure")]
    if not page_runs:
        return

    def column(key: str) -> list[float]:
        return [r[key] for r in page_runs]

    def seconds(key: str) -> str:
        return spread([v / 1000 for v in column(key)], "s", 1, 2)

    print(f"(b) job page in headless chromium, {len(page_runs)} runs (cold cache), median (min–max):")
    print(f"    HTML response end        {spread(column('responseEnd'), 'ms', 1)}")
    print(f"    CSS + scripts loaded     {spread(column('assets'), 'ms', 1)}")
    print(f"    DOMContentLoaded         {spread(column('domContentLoaded'), 'ms', 1)}")
    print(f"    WebSocket created        {spread(column('wsCreated'), 'ms', 1)}")
    print(f"    WebSocket opened         {spread(column('wsOpen'), 'ms', 1)}")
    firsts = [r["messages"][1][0] for r in page_runs if len(r["messages"]) > 1]
    if firsts:
        print(f"    first events message     {spread(firsts, 'ms', 1)}")
    print(f"    first log lines in DOM   {spread(column('firstLines'), 'ms', 1)}")
    print(f"    … painted (next frame)   {spread(column('firstFrame'), 'ms', 1)}")
    print(f"    same, warm HTTP cache    {spread(column('warm_firstFrame'), 'ms', 1)}")
    print(f"    all events loaded        {seconds('allLoaded')}")
    print(f"    … drawn                  {seconds('allDrawn')}")
    print(
        f"    main thread long tasks   {seconds('longTotal')} in "
        f"{statistics.median(column('longCount')):.0f} tasks, longest {spread(column('longMax'), 'ms', 1)}"
    )
    heaps = [r["heap"] / 1e6 for r in page_runs if r.get("heap")]
    if heaps:
        print(f"    JS heap after load       {statistics.median(heaps):.0f} MB")
    jumps = [j for r in page_runs for j in r["jumps"]]
    gaps = [g for r in page_runs for g in r["gaps"]]
    print(
        f"    scroll jumps ({len(jumps)}): median {statistics.median(jumps):.0f} ms, p95 "
        f"{percentile_of(jumps, 95):.0f} ms, max {max(jumps):.0f} ms until the right lines are painted; "
        f"wrong lines after 60 frames: {sum(r['misses'] for r in page_runs)}"
    )
    print(
        f"    smooth scroll ({len(gaps)} frames): frame gap median {statistics.median(gaps):.1f} ms, p95 "
        f"{percentile_of(gaps, 95):.1f} ms, max {max(gaps):.1f} ms"
    )
    shown_ok = all(r["shown"] == r["expected_lines"] for r in page_runs)
    print(f"    every log line shown: {'yes' if shown_ok else 'NO'}")
    first, warm = statistics.median(column("firstFrame")), statistics.median(column("warm_firstFrame"))
    print(
        f"    target (first lines ≤ 300 ms): {'met' if first <= 300 else 'NOT met'} ({first:.0f} ms cold "
        f"cache; {warm:.0f} ms warm)"
    )


if __name__ == "__main__":
    sys.exit(main())
