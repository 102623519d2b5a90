"""Overhead of run_step (ansible-runner, redaction, batching) over bare ansible-playbook.

Runs the lab's deploy on a cloud big enough for about 2,000 events, alternating a bare
``ansible-playbook`` (same inventory, variables, working directory and environment; output to
/dev/null) with ``run_step`` and a no-op sink, and prints the medians and their ratio. Wall time is
what counts; CPU time (this process plus its children) is printed too, because it is less disturbed
by other load on the machine, as is the median of the per-pair ratios.

    .venv/bin/python bench/lab_overhead_raw.py [--runs 5] [--compute 40] [--secrets 150]
"""

from __future__ import annotations

import argparse
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner import lab
from runner.execute import StepSpec, run_step
from runner.tests.lab_fixtures import cloud_inventory


def cpu_seconds() -> float:
    """CPU time used so far by this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare(playbook: Path, inventory: Path, extra_file: Path, env: dict[str, str]) -> float:
    """Wall time of one bare ansible-playbook run."""
    binary = Path(sys.executable).parent / "ansible-playbook"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(binary), "-i", str(inventory), "-e", f"@{extra_file}", str(playbook)],
        cwd=lab.PLAYBOOK_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bare ansible-playbook failed with rc {proc.returncode}")
    return elapsed


def main() -> None:
    """Set up the lab cloud, then time bare and run_step deploys alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--control", type=int, default=3)
    parser.add_argument("--network", type=int, default=2)
    parser.add_argument("--compute", type=int, default=40)
    parser.add_argument("--secrets", type=int, default=150, help="passwords to redact, as in passwords.yml")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ferry-bench-"))
    try:
        measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> None:
    """Build the cloud under ``work`` and print the timings."""
    text, hosts = cloud_inventory(args.control, args.network, args.compute, cells=2, storage=1)
    inventory = work / "inventory"
    inventory.write_text(text)
    root = lab.prepare_lab(work / "lab", hosts)
    # Random like kolla-genpwd's; shared prefixes would flatter or penalise the substring search.
    passwords = {f"lab_bench_password_{i}": secrets.token_urlsafe(30) for i in range(args.secrets)}
    extra = {**lab.lab_extra_vars(root), **passwords, "kolla_action": "deploy"}
    extra_file = work / "extra.json"
    extra_file.write_text(json.dumps(extra))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    events = 0

    def step() -> float:
        nonlocal events
        start = time.perf_counter()
        result = run_step(
            StepSpec(
                playbook=lab.playbook("site.yml"),
                project_dir=lab.PLAYBOOK_DIR,
                inventory=inventory,
                extra_vars=extra,
                secrets=list(passwords.values()),
                run_dir=work / "runs",
            ),
            sink=lambda batch: None,
            should_cancel=lambda: False,
        )
        elapsed = time.perf_counter() - start
        if result.status != "successful":
            raise SystemExit(f"run_step ended {result.status}")
        events = result.events
        return elapsed

    print(f"{len(hosts)} hosts; bootstrapping and a first deploy (not timed)...", flush=True)
    bare(lab.playbook("kolla-host.yml"), inventory, extra_file, env)
    step()
    print(f"deploy produces {events} events", flush=True)

    bare_times, step_times, bare_cpu, step_cpu = [], [], [], []
    for i in range(args.runs):
        cpu = cpu_seconds()
        bare_times.append(bare(lab.playbook("site.yml"), inventory, extra_file, env))
        bare_cpu.append(cpu_seconds() - cpu)
        cpu = cpu_seconds()
        step_times.append(step())
        step_cpu.append(cpu_seconds() - cpu)
        print(
            f"run {i + 1}: bare {bare_times[-1]:.2f}s ({bare_cpu[-1]:.1f}s cpu)  "
            f"run_step {step_times[-1]:.2f}s ({step_cpu[-1]:.1f}s cpu)  load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    bare_median, step_median = statistics.median(bare_times), statistics.median(step_times)
    pairs = statistics.median(s / b for s, b in zip(step_times, bare_times, strict=True))
    print(f"events per run: {events}")
    print(f"median bare ansible-playbook: {bare_median:.2f}s  ({statistics.median(bare_cpu):.1f}s cpu)")
    print(f"median run_step:              {step_median:.2f}s  ({statistics.median(step_cpu):.1f}s cpu)")
    print(f"ratio run_step / bare:        {step_median / bare_median:.3f}")
    print(f"median of per-pair ratios:    {pairs:.3f}")
    print(f"cpu ratio:                    {statistics.median(step_cpu) / statistics.median(bare_cpu):.3f}")


if __name__ == "__main__":
    main()
