"""Running one playbook step through ansible-runner, streaming its events, cancelling it cleanly.

``run_step`` runs ansible-playbook in the calling thread, in a fresh private data directory that is
deleted afterwards. Each event is redacted and queued for the sink, which a background thread
feeds in order and at least once (see ``runner.events``). Cancellation, timeout and the end of the
step all end the step's entire process tree (see ``runner.process``); so does the death of the
process running the step, through the step's watchdog (see ``runner.watchdog``).
"""

from __future__ import annotations

import collections
import datetime
import json
import logging
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import yaml
from ansible_runner.config.runner import RunnerConfig
from ansible_runner.runner import Runner
from ansible_runner.utils import get_callback_dir

from runner.events import MAX_BATCH, MAX_DELAY, EventBatcher, EventDeliveryError, Sink
from runner.process import TOKEN_ENV, children_with_token, kill_step
from runner.redact import Redactor
from runner.watchdog import Watchdog

log = logging.getLogger(__name__)

__all__ = ["EventDeliveryError", "StepResult", "StepSpec", "callback_env", "run_step"]

STATUSES = ("successful", "failed", "canceled", "timeout", "error")
STATS_KEYS = ("changed", "dark", "failures", "ignored", "ok", "processed", "rescued", "skipped")
# ansible-runner polls the cancel callback every pexpect_timeout seconds (5 by default).
POLL_SECONDS = 0.1
RUNNER_SETTINGS = {
    "pexpect_timeout": POLL_SECONDS,
    "suppress_output_file": True,
    "suppress_ansible_output": True,
}
# ansible-runner reads the step through pexpect with no pattern but TIMEOUT and EOF, so pexpect keeps
# everything printed since the step began (and copies it at every poll): a worker's memory would grow
# with each step's output, by about twice its size. A pattern with no answer to send lets pexpect drop
# what it has matched; ansible-runner still reads every byte, through pexpect's logfile_read, which sees
# the data before any pattern does. The pattern is the marker that closes every event (ESC[K, the empty
# end-of-event dict in base64, ESC[4D ESC[K): once per event, where any ESC[K would match four times,
# and each match is a turn of ansible-runner's read loop (cancel check, liveness, a new expect).
EVENT_END = "\x1b[Ke30=\x1b[4D\x1b[K"
DROP_READ_OUTPUT = {re.escape(EVENT_END): None}
# Ferry's awx_display: ansible-runner's event callback with each event's data in its stdout marker
# instead of a file per event (see the plugin's docstring). It loads ansible-runner's own from the path
# in FERRY_AWX_DISPLAY, since a kolla-ansible virtualenv running the step has no ansible_runner.
CALLBACK_DIR = Path(__file__).resolve().parent / "callback_plugins"
RUNNER_AWX_DISPLAY = Path(get_callback_dir()) / "awx_display.py"


@dataclass
class StepSpec:
    """Everything needed to run one ansible-playbook invocation.

    ``inventory`` is a path (``Path``, or a ``str`` naming an existing file or directory), inventory
    text (any other ``str``), or a list of those. ``extra_vars_files`` are passed as ``-e @file`` in
    order, before ``extra_vars`` (which therefore win). ``unsafe_vars`` are values a person chose:
    Ansible gets them marked ``!unsafe``, so it never templates them, and they win over
    ``extra_vars``. ``env`` is added to the worker's environment, of which only what Ansible needs
    passes (see ``ansible_environment``). ``secrets`` are masked in every event. Private data
    directories are created under ``run_dir`` (default: the system temporary directory).
    ``bin_dir`` is where ``ansible-playbook`` is found (default: this virtualenv's ``bin``), e.g. a
    kolla-ansible virtualenv's.
    """

    playbook: str | Path
    project_dir: str | Path | None = None
    inventory: str | Path | Sequence[str | Path] | None = None
    extra_vars: dict[str, Any] = field(default_factory=dict)
    extra_vars_files: Sequence[str | Path] = ()
    limit: str | None = None
    tags: str | Sequence[str] | None = None
    skip_tags: str | Sequence[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    run_dir: str | Path | None = None
    forks: int | None = None
    verbosity: int = 0
    timeout: float | None = None
    bin_dir: str | Path | None = None
    unsafe_vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """How a step ended. ``stats`` is the ``playbook_on_stats`` data (ok, failures, dark, ... per host)."""

    status: str
    rc: int
    started: datetime.datetime
    finished: datetime.datetime
    stats: dict[str, Any]
    events: int = 0
    error: str | None = None

    @property
    def duration(self) -> float:
        """Wall time of the step in seconds."""
        return (self.finished - self.started).total_seconds()

    def hosts_with(self, kind: str) -> list[str]:
        """Hosts counted under ``kind`` in the stats (e.g. ``failures``, ``dark`` for unreachable)."""
        return sorted(h for h, n in (self.stats.get(kind) or {}).items() if n)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _as_csv(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    return ",".join(value) or None


def _inventory_args(spec: StepSpec, private: Path) -> list[str] | None:
    if spec.inventory is None:
        return None
    items = [spec.inventory] if isinstance(spec.inventory, str | Path) else list(spec.inventory)
    paths = []
    for index, item in enumerate(items):
        if isinstance(item, Path) or ("\n" not in item and os.path.exists(item)):
            paths.append(str(Path(item).resolve()))
            continue
        path = private / "inventory" / f"hosts{index}"
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text(item)
        path.chmod(0o600)
        paths.append(str(path))
    return paths


def callback_env(plugins: str | None = None) -> dict[str, str]:
    """The environment that makes ansible-playbook load Ferry's awx_display before ansible-runner's.

    ``plugins`` is a callback path the step already asks for (else this process's), kept after ours.
    """
    rest = plugins if plugins is not None else os.environ.get("ANSIBLE_CALLBACK_PLUGINS", "")
    return {
        "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(filter(None, [str(CALLBACK_DIR), rest])),
        "FERRY_AWX_DISPLAY": str(RUNNER_AWX_DISPLAY),
    }


def _runner_config(spec: StepSpec, private: Path, token: str) -> RunnerConfig:
    playbook = Path(spec.playbook).resolve()
    project_dir = Path(spec.project_dir).resolve() if spec.project_dir else playbook.parent
    env = {str(k): str(v) for k, v in spec.env.items()}
    bins = [str(Path(sys.executable).parent)]
    if spec.bin_dir:
        bins.insert(0, str(Path(spec.bin_dir).resolve()))
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH") or os.environ.get("PATH", "")])
    env[TOKEN_ENV] = token
    env.update(callback_env(env.get("ANSIBLE_CALLBACK_PLUGINS")))
    if spec.extra_vars or spec.unsafe_vars:
        # A file keeps the values (passwords) out of the process list.
        extravars = private / "env" / "extravars"
        extravars.parent.mkdir(mode=0o700, exist_ok=True)
        extravars.write_text(extra_vars_text(spec.extra_vars, spec.unsafe_vars))
        extravars.chmod(0o600)
    # ansible-runner only keeps settings it reads from env/settings (a settings argument is dropped
    # when that file is missing).
    settings = private / "env" / "settings"
    settings.parent.mkdir(mode=0o700, exist_ok=True)
    settings.write_text(json.dumps(RUNNER_SETTINGS))
    cmdline = " ".join(f"-e @{shlex.quote(str(Path(f).resolve()))}" for f in spec.extra_vars_files)
    if spec.skip_tags:
        cmdline = f"{cmdline} --skip-tags {shlex.quote(_as_csv(spec.skip_tags) or '')}".strip()
    config = RunnerConfig(
        private_data_dir=str(private),
        playbook=str(playbook),
        project_dir=str(project_dir),
        inventory=_inventory_args(spec, private),
        limit=spec.limit or None,
        tags=_as_csv(spec.tags),
        forks=spec.forks,
        verbosity=spec.verbosity or None,
        envvars=env,
        cmdline=cmdline or None,
        quiet=True,
        ident=token,
        passwords=DROP_READ_OUTPUT,
        # ansible-runner's default is a jsonfile fact cache inside the private directory, which is
        # deleted after the step: disk I/O for nothing. Any other value leaves fact caching to the
        # project's own Ansible configuration.
        fact_cache_type="project",
    )
    config.prepare()
    config.env = ansible_environment(config.env, keep=env)
    return config


# What ansible-playbook inherits from the worker's own environment: enough to run and to reach hosts.
# Nothing else passes, so Ferry's database URL, broker URL and keys never reach a playbook.
INHERITED_NAMES = frozenset(
    {"HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR", "SHELL", "SSH_AUTH_SOCK"}
    | {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
    | {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    # Not a secret: where this Ferry keeps its files. A scan of processes finds an installation's
    # steps by it, their orphans included (the fault tests do).
    | {"FERRY_VAR_DIR"}
)
# Python's own settings (PYTHONUNBUFFERED keeps Ansible's output in step with its events), Ansible's,
# ansible-runner's, locales and the CA bundle of the machine.
INHERITED_PREFIXES = ("LC_", "ANSIBLE_", "RUNNER_", "AWX_", "PYTHON", "SSL_CERT_")


def ansible_environment(env: dict[str, str], keep: dict[str, str]) -> dict[str, str]:
    """``env`` without what came from the worker's environment and is not for Ansible.

    ``keep`` holds the variables the step set itself; ansible-runner's own additions are kept too
    (they are not in the worker's environment).
    """
    return {
        name: value
        for name, value in env.items()
        if name in keep
        or name not in os.environ
        or name in INHERITED_NAMES
        or name.startswith(INHERITED_PREFIXES)
    }


class _Unsafe(str):
    """Text that Ansible must take as it is: written with the ``!unsafe`` tag."""


class _VarsDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """YAML for an extra-vars file: safe types, ``!unsafe`` text, anything else as its string."""


_VarsDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))
_VarsDumper.add_multi_representer(object, lambda dumper, value: dumper.represent_str(str(value)))


def _mark_unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, dict):
        return {key: _mark_unsafe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_unsafe(item) for item in value]
    return value


def extra_vars_text(trusted: dict[str, Any], unsafe: dict[str, Any]) -> str:
    """One extra-vars file: ``trusted`` as they are, then ``unsafe`` with every text marked ``!unsafe``.

    Without unsafe values it is JSON (which YAML reads too), the cheaper encoding.
    """
    if not unsafe:
        return json.dumps(trusted, default=str)
    merged = {**trusted, **{key: _mark_unsafe(value) for key, value in unsafe.items()}}
    return yaml.dump(merged, Dumper=_VarsDumper, sort_keys=False, allow_unicode=True)


class StepRunner(Runner):
    """ansible-runner's ``Runner``, minus the file ansible-runner looks for with every event.

    ``Runner.event_callback`` tries to open a file of the event's data (ansible-runner's callback
    writes one per event) and, when the handler asks for it, writes the event out as an artifact.
    Ferry's callback sends the whole event in its marker and ``_Step.on_event`` never asks for the
    artifact, so for those events this does the rest of what ``Runner.event_callback`` does, without
    the failed open. An event the marker did not carry (only a uuid: ansible-runner's own callback
    ran the step) goes through ansible-runner's code, file and all.
    """

    def event_callback(self, event_data: dict[str, Any]) -> None:
        if "uuid" not in event_data or "event" not in event_data or self.event_handler is None:
            super().event_callback(event_data)
            return
        self.last_stdout_update = time.time()
        event_data["runner_ident"] = str(self.config.ident)
        event_data.setdefault("created", datetime.datetime.now(datetime.UTC).isoformat())
        if self.event_handler(event_data):
            raise RuntimeError("StepRunner keeps no event artifacts; the event handler must return False")
        for plugin in ansible_runner.plugins.values():
            plugin.event_handler(self.config, event_data)


class _Step:
    """State shared by ansible-runner's callbacks during one ``run_step``."""

    def __init__(
        self,
        spec: StepSpec,
        token: str,
        batcher: EventBatcher,
        should_cancel: Callable[[], bool],
    ) -> None:
        self.spec = spec
        self.token = token
        self.batcher = batcher
        self.redactor = Redactor(spec.secrets)
        self.should_cancel = should_cancel
        self.started = time.monotonic()
        self.stopped: str | None = None
        self.stats: dict[str, Any] = {}
        self.count = 0
        self.last_counter = 0
        self.tail: collections.deque[str] = collections.deque(maxlen=20)

    def on_event(self, event: dict[str, Any]) -> bool:
        """ansible-runner's event handler: redact, remember stats, queue. False: write no artifact."""
        try:
            event = self.redactor.event(event)
        except Exception:
            log.exception("could not redact event %s; delivering it without content", event.get("counter"))
            event = {k: event.get(k) for k in ("uuid", "counter", "event", "created")}
            event.update(stdout="", event_data={})
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data") or {}
            self.stats = {k: data.get(k) or {} for k in STATS_KEYS}
        elif event.get("event") == "verbose" and event.get("stdout"):
            self.tail.append(str(event["stdout"]))
        self.count += 1
        self.last_counter = event.get("counter") or self.last_counter
        self.batcher.add(event)
        return False

    def poll(self) -> bool:
        """ansible-runner's cancel callback, called every POLL_SECONDS: cancel, timeout."""
        try:
            cancel = bool(self.should_cancel())
        except Exception:
            log.exception("should_cancel failed; the step goes on")
            cancel = False
        timed_out = bool(self.spec.timeout) and time.monotonic() - self.started > (self.spec.timeout or 0)
        if not (cancel or timed_out):
            return False
        self.stopped = "canceled" if cancel else "timeout"
        self.kill()
        return True

    def kill(self) -> list[int]:
        """End every process of the step."""
        roots = [p.pid for p in children_with_token(self.token)]
        return kill_step(self.token, roots)


def run_step(
    spec: StepSpec,
    *,
    sink: Sink,
    should_cancel: Callable[[], bool],
    on_sink_thread_exit: Callable[[], None] | None = None,
    delivery_timeout: float = 600.0,
    max_batch: int = MAX_BATCH,
    max_delay: float = MAX_DELAY,
) -> StepResult:
    """Run one playbook step to its end and deliver all of its events to ``sink``.

    ``sink`` receives lists of redacted events in counter order, from a background thread; if it
    raises, the same batch is offered again (with backoff) until it returns. ``should_cancel`` is
    called from the calling thread, about every 0.1 s and at least every second.
    On cancel (or ``spec.timeout``) the whole process tree is ended within about a second.

    Returns once every event was delivered; raises ``EventDeliveryError`` if the sink still fails
    ``delivery_timeout`` seconds after the playbook ended. The exception carries the events not
    delivered (``undelivered``) and the step's ``result``; the step's processes are gone and its
    private directory is removed either way.
    """
    token = uuid.uuid4().hex
    base = Path(spec.run_dir) if spec.run_dir else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="step-", dir=base))
    # Ends the step's processes and removes its private directory should this process die mid-step.
    watchdog = Watchdog(token, private)
    batcher = EventBatcher(
        sink, max_batch=max_batch, max_delay=max_delay, on_thread_exit=on_sink_thread_exit
    ).start()
    step = _Step(spec, token, batcher, should_cancel)
    started = _now()
    status, rc, error = "error", -1, None
    try:
        try:
            config = _runner_config(spec, private, token)
            runner = StepRunner(config, event_handler=step.on_event, cancel_callback=step.poll)
            runner_status, runner_rc = runner.run()
            rc = runner_rc if isinstance(runner_rc, int) else -1
            if step.stopped:
                status = step.stopped
            elif runner_status == "successful":
                status = "successful"
            elif step.stats:
                status = "failed"
            else:
                status = "error"
                error = "\n".join(step.tail) or f"ansible-playbook ended with rc {rc} before running any play"
        except Exception as exc:
            log.exception("step failed to run")
            status, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            leftovers = step.kill()
            if leftovers and not step.stopped:
                log.warning("ended %d processes the step left behind: %s", len(leftovers), leftovers)
        result = StepResult(
            status=status,
            rc=rc,
            started=started,
            finished=_now(),
            stats=step.stats,
            events=step.count,
            error=error,
        )
        try:
            batcher.close(delivery_timeout)
        except EventDeliveryError as exc:
            exc.result = result
            raise
    finally:
        shutil.rmtree(private, ignore_errors=True)
        watchdog.close()
    return result
