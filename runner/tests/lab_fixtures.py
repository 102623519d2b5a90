"""Helpers shared by the lab and execution tests: kolla-style inventories and running lab playbooks."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from runner import lab
from runner.execute import StepResult, StepSpec, run_step
from runner.process import TOKEN_ENV

SMALL_CLOUD_HOSTS = ("ctl1", "ctl2", "net1", "cmp1", "cmp2", "cmp3")

# 2 control, 1 network, 3 compute in one named cell; shaped like kolla's multinode inventory
# (top-level groups, a few service groups, a cell group whose vars name its groups).
SMALL_CLOUD_INVENTORY = """\
[control]
ctl1
ctl2

[network]
net1

[compute]
cmp1
cmp2
cmp3

[monitoring]

[storage]

[deployment]
ctl1

[mariadb:children]
control

[nova-compute:children]
compute

[cell1-control]
ctl1
ctl2

[cell1-compute]
cmp1
cmp2
cmp3

[cell1:children]
cell1-control
cell1-compute

[cell1:vars]
nova_cell_name=cell1
nova_cell_conductor_group=cell1-control
nova_cell_novncproxy_group=cell1-control
nova_cell_compute_group=cell1-compute
"""


def cloud_inventory(
    control: int,
    network: int,
    compute: int,
    *,
    cells: int = 1,
    monitoring: int = 1,
    storage: int = 0,
    cell_control: int = 0,
) -> tuple[str, list[str]]:
    """A kolla-style inventory of a cloud of the given size; returns (ini text, host names).

    Compute hosts are spread over ``cells`` named cells; each cell's conductors are the control
    hosts, or ``cell_control`` hosts of its own (``cell1-ctl1`` ...), as in kolla's cells guide.
    """
    controls = [f"ctl{i}" for i in range(1, control + 1)]
    networks = [f"net{i}" for i in range(1, network + 1)]
    computes = [f"cmp{i}" for i in range(1, compute + 1)]
    monitors = [f"mon{i}" for i in range(1, monitoring + 1)]
    storages = [f"sto{i}" for i in range(1, storage + 1)]
    conductors = {
        f"cell{n}": [f"cell{n}-ctl{i}" for i in range(1, cell_control + 1)] or controls
        for n in range(1, cells + 1)
    }
    lines = []

    def group(name: str, hosts: Sequence[str]) -> None:
        lines.append(f"[{name}]")
        lines.extend(hosts)
        lines.append("")

    group("control", controls)
    group("network", networks)
    group("compute", computes)
    group("monitoring", monitors)
    group("storage", storages)
    group("deployment", controls[:1])
    for n in range(1, cells + 1):
        cell = f"cell{n}"
        group(f"{cell}-control", conductors[cell])
        group(f"{cell}-compute", computes[n - 1 :: cells])
        group(f"{cell}:children", [f"{cell}-control", f"{cell}-compute"])
        lines.extend(
            [
                f"[{cell}:vars]",
                f"nova_cell_name={cell}",
                f"nova_cell_conductor_group={cell}-control",
                f"nova_cell_compute_group={cell}-compute",
                "",
            ]
        )
    own = [host for hosts in conductors.values() for host in hosts if host not in controls]
    return "\n".join(lines), [*controls, *networks, *computes, *monitors, *storages, *own]


class Collector:
    """A sink that keeps every event it is given (optionally failing its first ``fail_first`` calls)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.events: list[dict[str, Any]] = []
        self.calls = 0
        self.failed_calls = 0
        self.fail_first = fail_first
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
            if self.failed_calls < self.fail_first:
                self.failed_calls += 1
                raise ConnectionError("sink is down")
            self.events.extend(batch)

    @property
    def counters(self) -> list[int]:
        """The counters of the delivered events, in delivery order."""
        return [e["counter"] for e in self.events]

    def of(self, kind: str, host: str | None = None) -> list[dict[str, Any]]:
        """Delivered events of one kind (``runner_on_failed`` ...), optionally for one host."""
        return [
            e
            for e in self.events
            if e.get("event") == kind and (host is None or e.get("event_data", {}).get("host") == host)
        ]

    def failure_messages(self) -> dict[str, list[str]]:
        """Failure messages of failed (item) results and unreachable hosts, by host."""
        found: dict[str, list[str]] = {}
        for e in self.events:
            if e.get("event") in ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable"):
                data = e.get("event_data", {})
                found.setdefault(data.get("host"), []).append(str((data.get("res") or {}).get("msg")))
        return found

    def dump(self) -> str:
        """Every delivered event as one JSON text (to look for strings anywhere in them)."""
        return json.dumps(self.events)


@dataclass
class LabCloud:
    """A lab cloud: its lab root, inventory text and hosts, with a way to run playbooks on it."""

    root: Path
    inventory: str
    hosts: Sequence[str]
    run_dir: Path

    def run(
        self,
        playbook: str,
        *,
        action: str | None = None,
        extra: dict[str, Any] | None = None,
        limit: str | None = None,
        tags: str | None = None,
        skip_tags: str | None = None,
        secrets: Sequence[str] = (),
        sink: Collector | None = None,
        should_cancel: Callable[[], bool] | None = None,
        env: dict[str, str] | None = None,
        **lab_options: Any,
    ) -> tuple[StepResult, Collector]:
        """Run a lab playbook (``action`` sets ``kolla_action``) through ``run_step``."""
        extra_vars = {**lab.lab_extra_vars(self.root, **lab_options), **(extra or {})}
        if action:
            extra_vars["kolla_action"] = action
        sink = sink or Collector()
        result = run_step(
            StepSpec(
                playbook=lab.playbook(playbook),
                inventory=self.inventory,
                extra_vars=extra_vars,
                limit=limit,
                tags=tags,
                skip_tags=skip_tags,
                secrets=secrets,
                run_dir=self.run_dir,
                env=env or {},
            ),
            sink=sink,
            should_cancel=should_cancel or (lambda: False),
        )
        return result, sink

    def state(self, host: str) -> dict[str, Any]:
        """``lab.read_host_state`` of one host."""
        return lab.read_host_state(self.root, host)

    def copy_to(self, path: Path) -> LabCloud:
        """A copy of this cloud (its hosts' directories) under ``path``."""
        shutil.copytree(self.root, path / "lab", ignore=shutil.ignore_patterns(".locks"))
        return LabCloud(path / "lab", self.inventory, self.hosts, path / "runs")


def new_cloud(
    path: Path, inventory: str = SMALL_CLOUD_INVENTORY, hosts: Sequence[str] = SMALL_CLOUD_HOSTS
) -> LabCloud:
    """An empty lab cloud (host directories only) under ``path``."""
    lab.prepare_lab(path / "lab", hosts)
    return LabCloud(path / "lab", inventory, tuple(hosts), path / "runs")


def deploy(cloud: LabCloud, release: str = "2025.1") -> Collector:
    """bootstrap-servers then deploy ``release``; returns the deploy's events."""
    result, _ = cloud.run("kolla-host.yml")
    assert result.status == "successful", result
    result, events = cloud.run("site.yml", action="deploy", extra={"openstack_release": release})
    assert result.status == "successful", events.failure_messages()
    return events


def step_processes_left() -> list[tuple[int, list[str]]]:
    """Processes anywhere on the machine that carry a step token, or run ``sleep 300``."""
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = proc.cmdline()
            if TOKEN_ENV in proc.environ() or cmdline[:2] == ["sleep", "300"]:
                left.append((proc.pid, cmdline))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return left
