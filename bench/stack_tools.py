"""Running the benchmarks against a whole Ferry in production shape (tests.e2e.stack.Stack).

The stack gets its own PostgreSQL database (dropped at the end) and its own Redis database number,
so that it can run beside the test suite. Child processes that play the worker get exactly the
stack's environment (``DATABASE_URL``, ``REDIS_URL``, keys) and set Django up themselves.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.e2e.stack import ROOT, Stack

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/ferry"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_stack(redis_db: int, worker_concurrency: int = 1) -> Iterator[Stack]:
    """Daphne, a celery worker and celery beat on PostgreSQL and Redis; everything removed afterwards."""
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("these benchmarks need PostgreSQL: set DATABASE_URL=postgresql://…")
    with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
        stack = Stack(
            Path(tmp),
            database_url=database_url,
            redis_url=redis_url,
            redis_db=redis_db,
            worker_concurrency=worker_concurrency,
        )
        try:
            yield stack.start()
        except BaseException:
            for name in ("web", "worker"):
                print(f"--- end of the {name} log ---\n{stack.log(name)}", file=sys.stderr)
            raise
        finally:
            stack.stop()


def setup_child_django() -> None:
    """In a child started by :func:`child`: Django on the stack's database and channel layer."""
    import django

    django.setup()


def child(stack: Stack, module: str, *args: str) -> subprocess.Popen:
    """Start ``python -m <module> <args>`` with the stack's environment, talking JSON lines on stdio."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=stack.env(),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def read_json(proc: subprocess.Popen) -> dict:
    """The next JSON line a child printed (other lines, e.g. warnings, are skipped)."""
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child exited with {proc.wait()} before answering")
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)


def say(message: dict) -> None:
    """From a child: one JSON line to the parent."""
    print(json.dumps(message), flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(CPU seconds busy on all cores, seconds of uptime) of the whole machine, from /proc."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    busy = sum(fields[:8]) - idle
    return busy / CLK_TCK, float(Path("/proc/uptime").read_text().split()[0])


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0–100), nearest rank, of the already sorted ``ordered``."""
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def spread(values: list[float], unit: str = "ms", scale: float = 1000.0, digits: int = 0) -> str:
    """``median (min–max)`` of per-run figures."""
    fmt = f"{{:.{digits}f}}"
    med, lo, hi = (fmt.format(v * scale) for v in (statistics.median(values), min(values), max(values)))
    return f"{med} {unit} ({lo}–{hi})" if len(values) > 1 else f"{med} {unit}"
