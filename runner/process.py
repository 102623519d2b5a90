"""Ending a step's whole process tree, including processes that left it.

ansible-core 2.19 task workers call ``setsid()``, so a step's processes do not share one process
group, and a worker whose parent died is re-parented away from the tree. Every process of a step is
started with ``TOKEN_ENV=<token>`` in its environment, which children inherit; killing walks the
tree from the step's root and also sweeps every process carrying the token.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable

import psutil

log = logging.getLogger(__name__)

TOKEN_ENV = "FERRY_STEP_TOKEN"


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_with_token(token: str) -> list[psutil.Process]:
    """Live processes whose environment has ``TOKEN_ENV=token`` (other users' are not readable)."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(TOKEN_ENV) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def children_with_token(token: str) -> list[psutil.Process]:
    """This process's direct children that belong to the step with ``token``."""
    found = []
    for proc in psutil.Process().children():
        try:
            if proc.environ().get(TOKEN_ENV) == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def step_processes(token: str | None, roots: Iterable[int] = ()) -> list[psutil.Process]:
    """The roots, all their descendants, and every process carrying ``token``; never this process."""
    me = os.getpid()
    seen: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in family:
            seen.setdefault(proc.pid, proc)
    if token:
        for proc in processes_with_token(token):
            seen.setdefault(proc.pid, proc)
    seen.pop(me, None)
    return [p for p in seen.values() if _alive(p)]


def _signal(procs: Iterable[psutil.Process], sig: int) -> None:
    for proc in procs:
        try:
            proc.send_signal(sig)
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    # Polls instead of psutil.wait_procs, which would reap our own children (pexpect reaps its child).
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _alive(p)]
    return alive


def kill_step(
    token: str | None,
    roots: Iterable[int] = (),
    *,
    grace: float = 0.4,
    rounds: int = 5,
) -> list[int]:
    """End every process of a step: SIGTERM, then SIGKILL whatever is left after ``grace`` seconds.

    Processes are first stopped (SIGSTOP) so none can fork while the tree is collected; the
    collection is repeated until nothing of the step is left (at most ``rounds`` times). Returns the
    pids that were signalled.
    """
    roots = list(roots)
    signalled: list[int] = []
    for _ in range(rounds):
        procs = step_processes(token, roots)
        if not procs:
            break
        _signal(procs, signal.SIGSTOP)
        # Whatever forked between the first look and the stop.
        known = {p.pid for p in procs}
        procs += [p for p in step_processes(token, roots) if p.pid not in known]
        _signal(procs, signal.SIGTERM)
        _signal(procs, signal.SIGCONT)
        signalled.extend(p.pid for p in procs)
        survivors = _wait_gone(procs, grace)
        if survivors:
            log.info("killing %d processes that outlived SIGTERM", len(survivors))
            _signal(survivors, signal.SIGKILL)
            _wait_gone(survivors, 1.0)
    return sorted(set(signalled))
