"""The lab backend seen from Ferry: where its playbooks live, creating host directories, reading state.

The playbooks under ``runner/lab/`` play kolla-ansible's actions against hosts that are directories
``<lab_root>/<inventory_hostname>/``; the layout of those directories is defined once, in
``labcore.py`` of the playbooks' local collection (``runner/lab/collections/``), which their plugins
import too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

PLAYBOOK_DIR = Path(__file__).resolve().parent / "lab"
HEALTHY, DEGRADED = "healthy", "degraded"
# The playbooks import it from their local collection; Ferry, outside Ansible, by its path.
LABCORE = "collections/ansible_collections/ferry/lab/plugins/module_utils/labcore.py"


def _load_core() -> ModuleType:
    name = "ferry_lab_labcore"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PLAYBOOK_DIR / LABCORE)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


core = _load_core()
LabError = core.LabError
hop_problem = core.hop_problem
legal_targets = core.legal_targets


def playbook(name: str) -> Path:
    """Path of a lab playbook by kolla-ansible's name (``site.yml``, ``kolla-host.yml``, ...)."""
    path = PLAYBOOK_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"the lab has no playbook {name}")
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content (the checksum backups record)."""
    return core.sha256_file(path)


def prepare_lab(lab_root: str | os.PathLike[str], hosts: Iterable[str]) -> Path:
    """Create ``lab_root`` and an empty directory per host (a host whose directory is missing is down)."""
    root = Path(lab_root)
    root.mkdir(parents=True, exist_ok=True)
    for host in hosts:
        if not host or "/" in host or host in (".", ".."):
            raise ValueError(f"not a usable host name: {host!r}")
        (root / host).mkdir(exist_ok=True)
    return root


def set_health(lab_root: str | os.PathLike[str], host: str, status: str, reason: str = "") -> None:
    """Mark a host healthy or degraded, as its monitoring would (prechecks refuse degraded hosts)."""
    if status not in (HEALTHY, DEGRADED):
        raise ValueError(f"health is {HEALTHY} or {DEGRADED}, not {status!r}")
    core.HostDir(lab_root, host).set_health(status, reason)


def read_host_state(lab_root: str | os.PathLike[str], host: str) -> dict[str, Any]:
    """Everything the lab knows about one host, as plain data.

    Keys: ``host``, ``exists``, ``bootstrapped``, ``health`` (``healthy``/``degraded``/None),
    ``containers`` (name -> image, tag, release, state, config_checksum, restarts ...),
    ``release`` (oldest release any container runs, None when nothing is deployed), ``releases``,
    ``images`` (pulled ``image:tag``), ``config`` (service -> checksum of its etc/kolla files),
    ``mariadb`` (None, or ``databases`` name -> schema release, ``online_migrations`` name -> the
    release whose online data migrations last ran on it, ``sha256`` of the data file, ``path``)
    and ``backups`` (their metadata, oldest first).
    """
    hd = core.HostDir(lab_root, host)
    containers = hd.containers()
    releases = core.container_releases(containers)
    host_info = core.read_json(hd.host_file, {}) or {}
    health = hd.health() or {}
    mariadb = None
    data = core.read_json(hd.data_file) if hd.data_file.exists() else None
    if isinstance(data, dict):
        mariadb = {
            "path": str(hd.data_file),
            "sha256": core.sha256_file(hd.data_file),
            "seq": data.get("seq"),
            "databases": {n: d.get("schema") for n, d in sorted((data.get("databases") or {}).items())},
            "online_migrations": {
                n: d.get("online_migrations") for n, d in sorted((data.get("databases") or {}).items())
            },
        }
    config = {}
    if hd.kolla_dir.is_dir():
        for directory in sorted(p for p in hd.kolla_dir.iterdir() if p.is_dir()):
            config[directory.name] = hd.config_checksum(directory.name)
    return {
        "host": host,
        "path": str(hd.root),
        "exists": hd.root.is_dir(),
        "bootstrapped": bool(host_info.get("bootstrapped")),
        "health": health.get("status"),
        "health_reason": health.get("reason"),
        "containers": containers,
        "release": releases[0] if releases else None,
        "releases": releases,
        "images": sorted(core.read_json(hd.images_file, {}) or {}),
        "config": config,
        "mariadb": mariadb,
        "backups": hd.backups(),
    }


def lab_extra_vars(
    lab_root: str | os.PathLike[str],
    *,
    fail: Mapping[str, Sequence[str]] | None = None,
    unreachable: Sequence[str] | None = None,
    slow_seconds: float | None = None,
    slow_hosts: Sequence[str] | None = None,
    item_delay: float | None = None,
) -> dict[str, Any]:
    """Extra variables the lab playbooks need (``lab_root``) plus optional failure injection.

    ``fail`` maps a host to the actions that fail there (``"upgrade"``, or ``"deploy:nova-compute"``
    for one service); ``unreachable`` hosts are reported UNREACHABLE; ``slow_seconds`` adds a real
    ``sleep`` on every host (or on ``slow_hosts``) at the start; ``item_delay`` slows every lab task
    item, for demos.
    """
    extra: dict[str, Any] = {"lab_root": str(Path(lab_root).resolve())}
    if fail:
        extra["lab_fail"] = {host: list(actions) for host, actions in fail.items()}
    if unreachable:
        extra["lab_unreachable"] = list(unreachable)
    if slow_seconds:
        extra["lab_slow_seconds"] = slow_seconds
        if slow_hosts:
            extra["lab_slow_hosts"] = list(slow_hosts)
    if item_delay:
        extra["lab_item_delay"] = item_delay
    return extra
