"""ferry_kolla_collections: make sure a kolla-ansible release's Ansible collections are installed.

Arguments: ``requirements`` (the release's requirement files, as ``kolla-ansible install-deps``
reads them), ``path`` (the collections directory its playbooks see), ``install`` (the argument
vector of its ``kolla-ansible install-deps``; run without a shell) and ``timeout`` (seconds).

It checks ``path`` against the requirement files: every collection present, at a version its
requirement allows, with the collections it declares as dependencies. When something is missing it
runs ``install`` with ``path`` as the only collections path (install-deps passes no
``--collections-path``, so ansible-galaxy installs into the first entry of
``ANSIBLE_COLLECTIONS_PATH``), then checks again. It fails only on bad arguments: the result says
what is present and what is ``missing`` (with where each would come from), how install-deps ended,
and a ``refusal`` for the playbook to fail with.

Runs on the controller (an action plugin, no module): the collections belong to the virtualenv
running ansible-playbook, and the version checks are ansible-galaxy's own.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements
from ansible.plugins.action import ActionBase

#: ansible-galaxy's server when a requirement names no ``source``.
GALAXY = "https://galaxy.ansible.com"
#: How long install-deps may take: it retries each requirement file five times.
DEFAULT_TIMEOUT = 900
OUTPUT_LINES = 20
NOT_INSTALLED = "not installed"
_NAME = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")
_WORD = re.compile(r"[a-z0-9_]+")
_ERROR_LINE = re.compile(r"^(\[ERROR\]|ERROR!|fatal:|error:)", re.IGNORECASE)
# What subprocess.CalledProcessError adds to a message: the whole command line, temporary paths and all.
_COMMAND_TAIL = re.compile(r":? Command '\[.*$")


@dataclass(frozen=True)
class Wanted:
    """One collection a requirement file asks for. ``kind`` is ansible-galaxy's ``type`` (``galaxy``,
    ``git``, ``url``, ``file``…); ``version`` a constraint (``<4``, ``*``) for a galaxy source, the
    branch or tag for a git one. ``name`` is None when Ferry cannot tell which collection a source
    provides."""

    name: str | None
    version: str
    source: str
    kind: str = "galaxy"

    @property
    def git(self) -> bool:
        """Whether it comes from a git repository (``version`` is then a branch or tag)."""
        return self.kind == "git"

    @property
    def origin(self) -> str:
        """Where install-deps would get it from, for a person: ``galaxy https://galaxy.ansible.com``."""
        if self.git and self.version != "*":
            return f"git {self.source} {self.version}"
        return f"{self.kind} {self.source}"

    def label(self) -> str:
        """``community.crypto <4`` (the constraint only where there is one)."""
        name = self.name or "a collection"
        return name if self.kind != "galaxy" or self.version == "*" else f"{name} {self.version}"


@dataclass(frozen=True)
class Found:
    """A collection in the collections directory, as its MANIFEST.json (or galaxy.yml) describes it."""

    name: str
    version: str | None
    dependencies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Missing:
    """A wanted collection that is absent or unusable, and why."""

    wanted: Wanted
    reason: str
    needed_by: str | None = None

    def describe(self) -> str:
        """``community.crypto <4 (galaxy https://galaxy.ansible.com): not installed``."""
        via = f", needed by {self.needed_by}" if self.needed_by else ""
        return f"{self.wanted.label()} ({self.wanted.origin}{via}): {self.reason}"

    def short(self) -> str:
        """``community.crypto <4``, with why when it is not simply absent: ``(found 4.0.0)``."""
        notes = [self.reason] if self.reason != NOT_INSTALLED else []
        notes += [f"needed by {self.needed_by}"] if self.needed_by else []
        return self.wanted.label() + (f" ({'; '.join(notes)})" if notes else "")


class RequirementsError(Exception):
    """A requirement file that cannot be read as ansible-galaxy would."""


def git_collection_name(url: str) -> str | None:
    """The collection a git source provides, by the ``<namespace>/ansible-collection-<name>``
    convention of its repository (``openstack/ansible-collection-kolla`` is ``openstack.kolla``), or
    None. ansible-galaxy only learns it from the galaxy.yml it clones."""
    url = url.removeprefix("git+").split(",", 1)[0].rstrip("/").removesuffix(".git")
    parts = url.split("/")
    if len(parts) < 2 or not parts[-1].startswith("ansible-collection-"):
        return None
    namespace, name = parts[-2].lower(), parts[-1].removeprefix("ansible-collection-").replace("-", "_")
    return f"{namespace}.{name}" if _WORD.fullmatch(namespace) and _WORD.fullmatch(name) else None


def _wanted(entry: Any, where: str) -> Wanted:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise RequirementsError(f"{where}: a collection entry without a name: {entry!r}")
    name, version = entry["name"].strip(), str(entry.get("version") or "*").strip()
    kind = str(entry.get("type") or ("git" if name.startswith("git+") else "galaxy"))
    if kind == "git":
        return Wanted(git_collection_name(name), version, name.removeprefix("git+"), kind)
    if kind == "galaxy" and _NAME.fullmatch(name):
        return Wanted(name, version, str(entry.get("source") or GALAXY))
    # A tarball URL, a file or a directory: nothing says which collection it holds.
    return Wanted(None, version, name, kind)


def read_requirements(paths: list[str]) -> list[Wanted]:
    """The collections the requirement files PATHS ask for, in order. A file holding only the old
    list of roles asks for none (install-deps skips it too)."""
    wanted: list[Wanted] = []
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RequirementsError(f"cannot read the requirement file {path}: {exc}") from None
        if not isinstance(data, dict):
            continue
        entries = data.get("collections") or []
        if not isinstance(entries, list):
            raise RequirementsError(f"{path}: `collections` is not a list")
        wanted += [_wanted(entry, path) for entry in entries]
    return wanted


def _metadata(directory: Path) -> tuple[str | None, dict[str, str]]:
    manifest = directory / "MANIFEST.json"
    try:
        if manifest.is_file():
            info = json.loads(manifest.read_text()).get("collection_info") or {}
        elif (directory / "galaxy.yml").is_file():
            info = yaml.safe_load((directory / "galaxy.yml").read_text()) or {}
        else:
            return None, {}
    except (OSError, ValueError, yaml.YAMLError):
        return None, {}
    if not isinstance(info, dict):
        return None, {}
    dependencies = info.get("dependencies") if isinstance(info.get("dependencies"), dict) else {}
    version = info.get("version")
    return (str(version) if version else None), {str(k): str(v) for k, v in dependencies.items()}


def installed_collections(path: str | Path) -> dict[str, Found]:
    """The collections under PATH (``ansible_collections/<namespace>/<name>/``) by name."""
    root = Path(path) / "ansible_collections"
    found: dict[str, Found] = {}
    if not root.is_dir():
        return found
    for namespace in sorted(p for p in root.iterdir() if p.is_dir()):
        for directory in sorted(p for p in namespace.iterdir() if p.is_dir()):
            name = f"{namespace.name}.{directory.name}"
            if _NAME.fullmatch(name):
                version, dependencies = _metadata(directory)
                found[name] = Found(name, version, dependencies)
    return found


def _allows(constraint: str, version: str | None) -> bool:
    if constraint == "*":
        return True
    if version is None:
        return False
    try:
        return meets_requirements(version, constraint)
    except ValueError:
        return False


def missing_collections(wanted: list[Wanted], found: dict[str, Found]) -> list[Missing]:
    """What of WANTED (and of the dependencies the present ones declare) FOUND lacks."""
    missing: list[Missing] = []
    seen: set[str] = set()
    queue: list[tuple[Wanted, str | None]] = [(w, None) for w in wanted]
    while queue:
        want, needed_by = queue.pop(0)
        if want.name in {m.wanted.name for m in missing if m.wanted.name}:
            continue
        if want.name is None:
            missing.append(Missing(want, "Ferry cannot tell which collection this source provides"))
            continue
        have = found.get(want.name)
        if have is None:
            missing.append(Missing(want, NOT_INSTALLED, needed_by))
            continue
        # A git source names a branch or tag, not a version: any version of it will do.
        if want.kind == "galaxy" and not _allows(want.version, have.version):
            reason = f"found {have.version}" if have.version else "found without a version (no MANIFEST.json)"
            missing.append(Missing(want, reason, needed_by))
            continue
        if want.name in seen:
            continue
        seen.add(want.name)
        for name, constraint in have.dependencies.items():
            queue.append((Wanted(name, constraint or "*", GALAXY), want.name))
    return missing


def install_error(lines: list[str]) -> str:
    """What install-deps' output says went wrong, in a line: the last error git printed and the last
    one ansible-galaxy printed, without the command lines Python appends to them."""
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if _ERROR_LINE.match(line):
            kind = "git" if line.lower().startswith(("fatal:", "error:")) else "galaxy"
            found.pop(kind, None)
            found[kind] = _COMMAND_TAIL.sub("", line)
    text = "; ".join(found.values()) or next((line.strip() for line in reversed(lines) if line.strip()), "")
    return text if len(text) <= 400 else text[:399] + "…"


def refusal(missing: list[Missing], path: str, install: list[str], outcome: dict[str, Any]) -> str:
    """The message a person reads when collections are still missing: each of them by source first
    (the job page shows a failure's first lines), then how install-deps ended and what to do."""
    by_origin: dict[str, list[str]] = {}
    for item in missing:
        by_origin.setdefault(item.wanted.origin, []).append(item.short())
    text = f"Ansible collections missing from {path}: " + "; ".join(
        f"from {origin}: {', '.join(names)}" for origin, names in by_origin.items()
    )
    command = shlex.join(install) if install else "kolla-ansible install-deps"
    if outcome.get("timed_out"):
        text += f". {command} did not finish in {outcome['timeout']:g} s"
    elif outcome.get("ran"):
        error = install_error(outcome.get("output_tail") or [])
        text += f". {command} exited {outcome.get('rc')}" + (f": {error}" if error else "")
    sources = sorted({m.wanted.source for m in missing})
    return (
        text
        + f". To fix it: on a machine that reaches {', '.join(sources)}, in an activated virtualenv of "
        + f"the same kolla-ansible release, run `ANSIBLE_COLLECTIONS_PATH={shlex.quote(path)} kolla-ansible "
        + f"install-deps` and copy {path} to this worker; or give the worker an HTTPS proxy (https_proxy) "
        + "that reaches them (git's url.<mirror>.insteadOf serves a mirror of a git source); then resume "
        + "the job."
    )


def run_install(argv: list[str], path: str, timeout: float) -> dict[str, Any]:
    """Run ARGV (install-deps) with PATH as its only collections path and its own bin first on PATH
    (install-deps runs ``ansible-galaxy`` by name); the whole process group ends at TIMEOUT."""
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False")
    env["PATH"] = os.pathsep.join(filter(None, [os.path.dirname(argv[0]), env.get("PATH", "")]))
    outcome: dict[str, Any] = {"ran": True, "argv": argv, "timeout": timeout, "timed_out": False}
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return {**outcome, "rc": None, "output_tail": [f"cannot run {argv[0]}: {exc}"]}
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        outcome["timed_out"] = True
    outcome["rc"] = proc.returncode
    outcome["output_tail"] = [line for line in (output or "").splitlines() if line.strip()][-OUTPUT_LINES:]
    return outcome


def ensure_collections(
    requirements: list[str], path: str, install: list[str], timeout: float
) -> dict[str, Any]:
    """Check PATH against REQUIREMENTS; when something is missing run INSTALL (under a lock, so two
    steps never install into one directory at once) and check again. The plugin's result."""
    wanted = read_requirements(requirements)
    before = missing_collections(wanted, installed_collections(path))
    outcome: dict[str, Any] = {"ran": False}
    missing = before
    if before and install:
        Path(path).mkdir(parents=True, exist_ok=True)
        with open(Path(path).parent / f".{Path(path).name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Another step may have installed them while this one waited.
            missing = missing_collections(wanted, installed_collections(path))
            if missing:
                outcome = run_install(install, path, timeout)
                missing = missing_collections(wanted, installed_collections(path))
    found = installed_collections(path)
    present = [
        f"{w.name} {found[w.name].version or '(no version)'}"
        for w in wanted
        if w.name in found and w.name not in {m.wanted.name for m in missing}
    ]
    report = [f"collections directory: {path}"]
    report += [f"present: {line}" for line in present]
    report += [f"missing: {m.describe()}" for m in missing]
    if not before:
        report.append("install-deps not run: every required collection was already present")
    elif outcome["ran"]:
        ended = "timed out" if outcome["timed_out"] else f"exited {outcome['rc']}"
        report.append(f"{shlex.join(install)} {ended}; its last lines:")
        report += [f"  {line}" for line in outcome["output_tail"]]
    elif install and not missing:
        report.append("install-deps not run: another step installed the collections meanwhile")
    result: dict[str, Any] = {
        "changed": bool(outcome["ran"]),
        "present": present,
        "missing": [m.describe() for m in missing],
        "install": outcome,
        "report": report,
    }
    if missing:
        result["refusal"] = refusal(missing, path, install, outcome)
        result["msg"] = f"{len(missing)} collection(s) missing from {path}"
    else:
        result["msg"] = f"all {len(wanted)} required collections present in {path}"
    return result


class ActionModule(ActionBase):
    """The action: arguments checked, then ``ensure_collections``."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        requirements, path = args.get("requirements"), args.get("path")
        install, timeout = args.get("install") or [], args.get("timeout", DEFAULT_TIMEOUT)
        problems = []
        if not isinstance(requirements, list) or not all(isinstance(p, str) and p for p in requirements):
            problems.append("requirements must be a list of requirement file paths")
        if not isinstance(path, str) or not os.path.isabs(path):
            problems.append("path must be an absolute directory path")
        if not isinstance(install, list) or not all(isinstance(a, str) and a for a in install):
            problems.append("install must be a list of arguments (no shell)")
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            timeout = 0.0
        if timeout <= 0:
            problems.append("timeout must be a positive number of seconds")
        if problems:
            return {**result, "failed": True, "msg": "; ".join(problems)}
        try:
            result.update(ensure_collections(requirements, path, install, timeout))
        except RequirementsError as exc:
            return {**result, "failed": True, "msg": str(exc)}
        return result
