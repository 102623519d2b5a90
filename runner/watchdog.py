"""A step's watchdog: when the process running the step dies, end the step's processes and files.

A worker killed outright (SIGKILL, the OOM killer) cannot end its step, and ansible-playbook's
task workers call ``setsid()``, so neither a process-group kill nor the kernel's parent-death
signal on ansible-playbook reaches all of them. Each step therefore starts this small process in
a session of its own, holding the read end of a pipe whose only write end the worker keeps. The
pipe closes when the step ends or when the worker dies, however it dies; the watchdog then ends
every process carrying the step's token (see ``runner.process``) and removes the step's private
data directory, which holds its extra variables (passwords included). After a normal end there
is nothing left to do and it exits at once.

Run as ``python -m runner.watchdog TOKEN PRIVATE_DIR``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from runner.process import kill_step

ROOT = Path(__file__).resolve().parent.parent


class Watchdog:
    """The worker's end of a step's watchdog: start it before the step, ``close`` it after."""

    def __init__(self, token: str, private: Path) -> None:
        env = dict(os.environ)
        env.pop("FERRY_STEP_TOKEN", None)  # it is not a step process: sweeps must not find it
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "runner.watchdog", token, str(private)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
            cwd=str(ROOT),
            # Its own session: a kill of the worker's process group must not take it along.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        """The step is over: let the watchdog sweep what is left and exit."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def main(argv: list[str]) -> int:
    token, private = argv
    # Only the pipe's closing may end the watch: not a terminal's hang-up or Ctrl-C to the worker.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    kill_step(token)
    shutil.rmtree(private, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
