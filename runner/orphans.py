"""Finding and ending step processes whose worker died.

A worker killed outright (OOM, SIGKILL, a lost machine) cannot end its step:
ansible-playbook and its setsid() task workers live on, re-parented to init,
still changing hosts. Every step process carries ``FERRY_STEP_TOKEN`` in its
environment; one whose chain of parents reaches init without passing a
process that does not carry it has lost its worker.
"""

from __future__ import annotations

import contextlib
import logging

import psutil

from runner.process import TOKEN_ENV

log = logging.getLogger(__name__)


def _token(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get(TOKEN_ENV)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None


def orphaned_step_processes() -> list[psutil.Process]:
    """Step processes on this machine that no live worker owns any more."""
    orphans = []
    for proc in psutil.process_iter():
        if _token(proc) is None:
            continue
        try:
            parent = proc.parent()
            while parent is not None and parent.pid != 1 and _token(parent) is not None:
                parent = parent.parent()
        except psutil.NoSuchProcess:
            continue
        if parent is None or parent.pid == 1:
            orphans.append(proc)
    return orphans


def end_orphaned_steps(grace: float = 1.0) -> list[int]:
    """Terminate (then kill) every orphaned step process with all its descendants; return their pids."""
    victims: dict[int, psutil.Process] = {}
    for proc in orphaned_step_processes():
        victims[proc.pid] = proc
        try:
            for child in proc.children(recursive=True):
                victims[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    for proc in victims.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(list(victims.values()), timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    if victims:
        log.warning("ended %d step processes left behind by a dead worker: %s", len(victims), sorted(victims))
    return sorted(victims)
