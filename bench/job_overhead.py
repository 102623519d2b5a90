"""Overhead of a whole Ferry job over bare ansible-playbook running the same lab playbook.

    python -m bench.job_overhead [--runs 5] [--kind check] [--compute 72] [--passwords 150]
                                 [--run-step] [--callback]

Setup (not timed): a scratch database on DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ferry),
the Redis channel layer at REDIS_URL (default redis://127.0.0.1:6379/0), FERRY_VAR_DIR in a temporary
directory; a cloud with a generated kolla-style inventory (3 controllers, 2 network nodes,
``--compute`` computes in two nova cells with a conductor each, group_vars per cell) and a passwords.yml
of ``--passwords`` random values, deployed once by a Ferry deploy job. Celery is not needed:
``run_job.delay`` and ``dispatch_jobs.delay`` are replaced by no-ops and the worker's code is called
in-process.

Then, alternating (bare first in odd runs, Ferry first in even runs):

(a) Ferry: ``launch_job(kind)`` → ``dispatch()`` → ``execute_job(job_id, worker="bench")``, exactly what
    the Celery task does: plan and store the job, start it, heartbeat/cancel thread, cloud context
    (decrypt passwords, inventory from the database), render the inventory, ansible-runner, redaction,
    batching, every event stored in PostgreSQL and published, host totals, final state and audit.
(b) bare: ``ansible-playbook -i <inventory> -e @<extra vars JSON> <playbook>`` with the playbook,
    inventory and variables LabBackend.step_spec builds for the same step (from the same
    ``cloud_context``), in the same working directory, output to /dev/null.

(c) with ``--run-step``: ``runner.execute.run_step`` alone on the step spec Ferry would build, with a
    no-op sink: ansible-runner, redaction and batching without the database, to split the overhead.

(d) with ``--callback``: the bare command with the event callback Ferry's steps use (``awx_display`` from
    runner/callback_plugins, each event's data in its stdout marker), output to /dev/null: its share;
    and (e) the same with ansible-runner's own ``awx_display``, which writes every event to a file for
    ansible-runner to pick up (here in FERRY_SCRATCH_DIR, where Ferry's steps keep ansible-runner's files).

``--kind`` must plan a single step (check or prechecks), so both sides run exactly one playbook.
Reports the medians, min/max, the ratio of the medians with a 90% bootstrap interval (how far the runs
leave it uncertain), the median of per-pair ratios, CPU time of
this process and its children, the whole machine's busy CPU time (PostgreSQL and Redis included),
and the events each Ferry job stored (checked: counters 1..N, once).
Target: Ferry / bare ≤ 1.10.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import ferry_env
from bench.common import machine, ratio_interval, scratch_database

TARGET = 1.10


def write_inventory(root: Path, control: int, network: int, compute: int, cells: int) -> Path:
    """A kolla multinode-style inventory directory: top-level groups, nova cells with group_vars.

    Each cell has a conductor host of its own (``c<N>ctl01``) and an equal share of the computes.
    """
    controls = [f"ctl{i:02d}" for i in range(1, control + 1)]
    networks = [f"net{i:02d}" for i in range(1, network + 1)]
    computes = [f"cmp{i:03d}" for i in range(1, compute + 1)]
    lines = ["[control]", *(f"{h} ansible_host=10.0.0.{i}" for i, h in enumerate(controls, 11))]
    lines += ["[network]", *(f"{h} ansible_host=10.0.1.{i}" for i, h in enumerate(networks, 11))]
    lines += ["[monitoring]", controls[0], "[storage]", *controls[1:], "[deployment]", controls[0]]
    lines += ["[compute:children]", *(f"cell{c}-compute" for c in range(1, cells + 1))]
    group_vars = root / "group_vars"
    group_vars.mkdir(parents=True)
    for c in range(1, cells + 1):
        cell = f"cell{c}"
        members = computes[c - 1 :: cells]
        lines += [f"[{cell}-control]", f"c{c}ctl01 ansible_host=10.{c}.0.1", f"[{cell}-compute]"]
        lines += [f"{h} ansible_host=10.{c}.{i // 250}.{i % 250 + 2}" for i, h in enumerate(members)]
        lines += [f"[{cell}:children]", f"{cell}-control", f"{cell}-compute"]
        (group_vars / cell).write_text(
            f"nova_cell_name: {cell}\nnova_cell_compute_group: {cell}-compute\n"
            f"nova_cell_conductor_group: {cell}-control\nnova_cell_novncproxy_group: {cell}-control\n"
            f"nova_novncproxy_port: {6079 + c}\n"
        )
    (root / "inventory").write_text("\n".join(lines) + "\n")
    return root


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process (all threads) and by its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_playbook(command: list[str], **popen: object) -> tuple[int, float]:
    """Run a command to its end: its exit status and the CPU seconds of its own process.

    The process is read once it has exited and before it is reaped (a zombie keeps its times), so
    the figure is exact and leaves out the forks, which the children's rusage holds with it.
    """
    import psutil

    proc = subprocess.Popen(command, **popen)  # type: ignore[call-overload]
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    times = psutil.Process(proc.pid).cpu_times()
    return proc.wait(), times.user + times.system


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far, PostgreSQL and Redis included (steal excluded)."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq


def other_sessions() -> int:
    """Connections to this database other than this thread's (e.g. left open by finished threads)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    # The benchmark's own workloads, not a list of kinds: the read-only ones that plan one playbook step.
    parser.add_argument("--kind", default="check", choices=["check", "prechecks"])
    parser.add_argument("--control", type=int, default=3)
    parser.add_argument("--network", type=int, default=2)
    parser.add_argument("--compute", type=int, default=72, help="72: about 2,000 events for check")
    parser.add_argument("--cells", type=int, default=2)
    parser.add_argument("--passwords", type=int, default=150, help="entries of passwords.yml (all redacted)")
    parser.add_argument("--release", default="2025.1")
    parser.add_argument(
        "--run-step",
        action="store_true",
        help="also time runner.execute.run_step alone (same spec, a no-op sink): the runner's share",
    )
    parser.add_argument(
        "--callback",
        action="store_true",
        help="also time the bare command with Ferry's and with ansible-runner's own event callback",
    )
    ferry_env.add_arguments(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as var_dir:
        ferry_env.configure(args, var_dir)
        with scratch_database() as database:
            measure(args, database, Path(var_dir))


def measure(args: argparse.Namespace, database: str, var_dir: Path) -> None:
    import ansible_runner

    from apps.clouds.models import Cloud
    from apps.clouds.services import create_cloud, import_inventory_path
    from apps.jobs import services, tasks
    from apps.jobs.execution import cloud_context, execute_job
    from apps.jobs.models import Event, Job, JobState
    from runner.backends import LabBackend, StepInput
    from runner.execute import callback_env, run_step

    # No broker: the worker's code runs here, in-process.
    tasks.run_job.delay = lambda *a, **k: None
    tasks.dispatch_jobs.delay = lambda *a, **k: None
    layer = ferry_env.channel_layer()

    # Random like kolla-genpwd's values.
    passwords = "".join(f"bench_password_{i}: {secrets.token_urlsafe(30)}\n" for i in range(args.passwords))
    cloud = create_cloud(
        None,
        slug="bench",
        passwords_yml=passwords,
        globals_yml='kolla_base_distro: "rocky"\nkolla_internal_vip_address: "10.0.0.250"\n',
    )
    source = write_inventory(var_dir / "source", args.control, args.network, args.compute, args.cells)
    hosts = import_inventory_path(None, cloud, source).hosts

    phases: list[tuple[float, float, float]] = []  # per timed Ferry job: before, in, after its steps

    def ferry_job(kind: str, params: dict | None = None) -> Job:
        launched = time.time()
        job = services.launch_job(None, cloud, kind, params=params, confirmed=True)
        if job.pk not in services.dispatch():
            raise SystemExit(f"job {job.pk} did not start")
        execute_job(job.pk, worker="bench")
        ended = time.time()
        job.refresh_from_db()
        if job.state != JobState.SUCCEEDED:
            raise SystemExit(f"{kind} job {job.pk} ended {job.state}: {job.result}")
        steps = list(job.steps.order_by("ordinal"))
        first, last = steps[0].started_at.timestamp(), steps[-1].finished_at.timestamp()
        phases.append((first - launched, last - first, ended - last))
        return job

    print(f"{hosts} hosts; deploying with a Ferry job (not timed)...", flush=True)
    deploy = ferry_job("deploy", {"release": args.release})
    print(f"deploy: {deploy.steps.count()} steps, {deploy.event_count} events", flush=True)

    # The bare side: the very playbook, inventory and variables the lab backend builds for the step.
    cloud = Cloud.objects.select_related("release").get(pk=cloud.pk)
    _, (planned,) = services.build_plan(cloud, args.kind, {})
    spec = LabBackend().step_spec(
        cloud_context(cloud),
        StepInput(planned.action, planned.playbook, planned.extra_vars, planned.limit, planned.tags),
        var_dir / "bare",
    )
    extra_file = var_dir / "bare" / "extra.json"
    extra_file.write_text(json.dumps(spec.extra_vars, default=str))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(spec.inventory)]
    command += ["-e", f"@{extra_file}", str(spec.playbook)]
    if spec.limit:
        command += ["--limit", spec.limit]
    if spec.tags:
        command += ["--tags", spec.tags]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    last_main: dict[str, float] = {}  # the ansible-playbook process's own CPU in a side's last run

    def bare() -> None:
        rc, last_main["bare"] = run_playbook(
            command, cwd=spec.project_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if rc != 0:
            raise SystemExit(f"bare ansible-playbook failed with rc {rc}: {' '.join(command)}")

    # Both partial sides keep ansible-runner's files where Ferry's steps keep them.
    from django.conf import settings

    scratch = Path(settings.FERRY_SCRATCH_DIR)
    callback_events = scratch / "bench-callback"

    runner_callbacks = str(Path(ansible_runner.__file__).parent / "display_callback" / "callback")

    def bare_with_callback(side: str, plugins: dict[str, str]) -> None:
        """The bare command with an event callback, output to /dev/null (no pty, no parsing)."""
        shutil.rmtree(callback_events, ignore_errors=True)
        callback_events.mkdir()
        rc, last_main[side] = run_playbook(
            command,
            cwd=spec.project_dir,
            env={
                **env,
                **plugins,
                "ANSIBLE_STDOUT_CALLBACK": "awx_display",
                "AWX_ISOLATED_DATA_DIR": str(callback_events),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if rc != 0:
            raise SystemExit(f"ansible-playbook with the callback failed with rc {rc}")

    def runner_only() -> None:
        step_spec = LabBackend().step_spec(
            cloud_context(cloud),
            StepInput(planned.action, planned.playbook, planned.extra_vars, planned.limit, planned.tags),
            var_dir / "run-step",
        )
        step_spec.run_dir = scratch / "bench-run-step"
        result = run_step(
            step_spec,
            sink=lambda batch: None,
            should_cancel=lambda: False,
        )
        if result.status != "successful":
            raise SystemExit(f"run_step ended {result.status}: {result.error}")

    def check(job: Job) -> int:
        (step,) = job.steps.all()
        counters = list(Event.objects.filter(step=step).order_by("counter").values_list("counter", flat=True))
        if counters != list(range(1, len(counters) + 1)) or job.event_count != len(counters):
            raise SystemExit(f"job {job.pk}: events not stored exactly once ({len(counters)} rows)")
        return len(counters)

    sides = {"bare": bare, "ferry": lambda: ferry_job(args.kind)}
    if args.run_step:
        sides["run_step"] = runner_only
    if args.callback:
        sides["callback"] = lambda: bare_with_callback("callback", callback_env(runner_callbacks))
        sides["stock_cb"] = lambda: bare_with_callback(
            "stock_cb", {"ANSIBLE_CALLBACK_PLUGINS": runner_callbacks}
        )
    # One untimed run of each (caches, imports, connections).
    for run in sides.values():
        run()

    times: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    busy: dict[str, list[float]] = {side: [] for side in sides}
    main_cpu: dict[str, list[float]] = {}
    last_main.clear()
    events: list[int] = []
    for i in range(args.runs):
        for side in list(sides) if i % 2 == 0 else list(reversed(sides)):
            (own, children), machine_before = cpu_seconds(), machine_busy_seconds()
            started = time.perf_counter()
            job = sides[side]()
            times[side].append(time.perf_counter() - started)
            own_after, children_after = cpu_seconds()
            busy[side].append(machine_busy_seconds() - machine_before)
            cpu[side].append((own_after - own, children_after - children))
            if side in last_main:
                main_cpu.setdefault(side, []).append(last_main.pop(side))
            if side == "ferry":
                events.append(check(job))
        print(
            f"run {i + 1}: "
            + "  ".join(f"{side} {times[side][-1]:.2f}s ({sum(cpu[side][-1]):.1f}s cpu)" for side in sides)
            + f"  {events[-1]} events  load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    # The callback side's event files are never read back: nothing of the bench stays in memory.
    shutil.rmtree(callback_events, ignore_errors=True)
    shutil.rmtree(scratch / "bench-run-step", ignore_errors=True)
    lingering = other_sessions()
    gc.collect()
    left = other_sessions()

    bare_median, ferry_median = statistics.median(times["bare"]), statistics.median(times["ferry"])
    pairs = statistics.median(f / b for f, b in zip(times["ferry"], times["bare"], strict=True))
    ratio = ferry_median / bare_median
    print()
    print(f"machine: {machine()}; database: {database}; channel layer: {layer}")
    print(
        f"method: {args.kind} (one step, {spec.playbook.name}) on a deployed lab cloud of {hosts} hosts, "
        f"{args.passwords} passwords redacted; {args.runs} runs each, alternating, after one untimed run "
        f"each; ferry = launch_job + dispatch + execute_job in-process; bare = ansible-playbook -i -e @json; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"events per Ferry job: {statistics.median(events):.0f} (min {min(events)}, max {max(events)}), "
          "each stored exactly once")  # fmt: skip
    total_cpu = {side: statistics.median(sum(c) for c in cpu[side]) for side in sides}
    for side in sides:
        own = statistics.median(c[0] for c in cpu[side])
        children = statistics.median(c[1] for c in cpu[side])
        print(
            f"{side:8s}: median {statistics.median(times[side]):.2f} s "
            f"(min {min(times[side]):.2f}, max {max(times[side]):.2f}); cpu median {total_cpu[side]:.2f} s "
            f"= {own:.2f} s this process + {children:.2f} s ansible-playbook and its forks; "
            f"machine busy {statistics.median(busy[side]):.2f} s"
        )
    timed = phases[-args.runs :]
    before, during, after = (statistics.median(p[k] for p in timed) for k in range(3))
    print(
        f"ferry's wall time, medians: {before:.2f} s launch → first step started (plan, dispatch, cloud "
        f"context, inventory), {during:.2f} s in the step (ansible-runner, events stored), {after:.2f} s "
        "after it (last events, final state, audit)"
    )
    print(
        "CPU of the ansible-playbook process itself (which runs every callback), medians: "
        + ", ".join(f"{side} {statistics.median(v):.2f} s" for side, v in main_cpu.items())
    )
    if args.callback:
        share = statistics.median(times["callback"]) / bare_median
        stock = statistics.median(times["stock_cb"]) / bare_median
        print(f"ratio callback / bare (medians): {share:.3f} (Ferry's event callback alone); "
              f"stock_cb / bare: {stock:.3f} (ansible-runner's own)")  # fmt: skip
    if args.run_step:
        share = statistics.median(times["run_step"]) / bare_median
        print(f"ratio run_step / bare (medians): {share:.3f} (ansible-runner, redaction, batching; no DB)")
    low, high = ratio_interval(times["ferry"], times["bare"])
    print(f"ratio ferry / bare (medians): {ratio:.3f} (90% bootstrap interval {low:.3f}–{high:.3f}); "
          f"median of per-pair ratios: {pairs:.3f}; "
          f"cpu ratio: {total_cpu['ferry'] / total_cpu['bare']:.3f}; machine busy ratio: "
          f"{statistics.median(busy['ferry']) / statistics.median(busy['bare']):.3f}")  # fmt: skip
    print(
        f"database connections still open after the runs: {lingering} "
        f"({left} after a garbage collection; PostgreSQL and Redis CPU are only in 'machine busy')"
    )
    print(f"target (ratio <= {TARGET:.2f}):", "met" if ratio <= TARGET else "NOT met")


if __name__ == "__main__":
    main()
