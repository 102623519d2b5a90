"""Helpers shared by the benchmarks: a scratch database, timing, reporting."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A freshly migrated test database (``test_<name>``) on whatever DATABASE_URL points to."""
    setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":  # never the test suite's test_<name>, which may be in use
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}_{os.getpid()}"
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield f"{connection.vendor} ({name})"
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def summary(times: list[float]) -> str:
    median = statistics.median(times)
    return f"median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f}, n={len(times)})"


def machine() -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{python}, {os.cpu_count()} cores, {platform.machine()}"


def ratio_interval(
    numerators: list[float], denominators: list[float], *, rounds: int = 5000
) -> tuple[float, float]:
    """A 90% bootstrap interval of median(numerators) / median(denominators), each side resampled.

    With a handful of runs on a shared machine, this says how far the ratio of the medians could
    move on another day's runs: a difference inside it is not one the runs can tell.
    """
    import random

    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(numerators, k=len(numerators)))
        / statistics.median(rng.choices(denominators, k=len(denominators)))
        for _ in range(rounds)
    )
    return ratios[int(rounds * 0.05)], ratios[int(rounds * 0.95) - 1]
