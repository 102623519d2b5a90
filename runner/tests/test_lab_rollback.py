"""Rollback on the lab, run for real: deploy, back up, upgrade, then the planner's rollback plan.

One cloud is deployed, backed up and upgraded once per module; each test works on a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner import lab
from runner.backends import CloudContext, LabBackend, StepInput, lab_root
from runner.execute import StepResult, run_step
from runner.inventory import parse_inventory
from runner.params import BackupInfo
from runner.planner import (
    DATA_PLANE_CONTAINERS,
    PlannedStep,
    PlanRequest,
    ReleaseInfo,
    plan,
    restore_steps,
    step,
)
from runner.tests.lab_fixtures import SMALL_CLOUD_INVENTORY, Collector

# Both tests on one worker: the module's deployed, backed-up and upgraded cloud is built once.
pytestmark = [pytest.mark.ansible, pytest.mark.xdist_group("lab-rollback")]

SERIES = ["2024.1", "2024.2", "2025.1", "2025.2", "2026.1"]
RELEASES = [ReleaseInfo(s, s.endswith(".1")) for s in SERIES]
CONTROL_PLANE = ("keystone", "glance-api", "nova-api", "nova-scheduler", "neutron-server", "rabbitmq")
# On the computes: what carries the instances and their traffic never stops nor changes image.
KEPT = ("nova-libvirt", "openvswitch-db-server", "openvswitch-vswitchd")


class Cloud:
    """A lab cloud driven through the lab backend, as Ferry's worker drives it."""

    def __init__(self, var_dir: Path) -> None:
        inventory_file = var_dir / "inventory.ini"
        if not inventory_file.exists():
            inventory_file.write_text(SMALL_CLOUD_INVENTORY)
        self.context = CloudContext(
            slug="small",
            inventory=parse_inventory(inventory_file),
            globals={"enable_mariabackup": "yes"},
            passwords={},
            secrets=[],
            release="2025.1",
            distro="rocky",
            distro_version="9",
            var_dir=var_dir,
        )
        self.runs = 0

    @property
    def root(self) -> Path:
        return lab_root(self.context)

    def run(self, planned: PlannedStep) -> tuple[StepResult, Collector]:
        self.runs += 1
        spec = LabBackend().step_spec(
            self.context,
            StepInput(
                planned.action,
                planned.playbook,
                planned.extra_vars,
                planned.limit,
                planned.tags,
                planned.user_vars,
            ),
            self.context.var_dir / "runs" / str(self.runs),
        )
        sink = Collector()
        return run_step(spec, sink=sink, should_cancel=lambda: False), sink

    def ok(self, planned: PlannedStep) -> Collector:
        result, events = self.run(planned)
        assert result.status == "successful", (planned.name, events.failure_messages())
        return events

    def containers(self, host: str) -> dict[str, dict[str, Any]]:
        return lab.read_host_state(self.root, host)["containers"]

    def copy(self, path: Path) -> Cloud:
        shutil.copytree(self.context.var_dir / "lab", path / "lab", ignore=shutil.ignore_patterns(".locks"))
        shutil.copy(self.context.var_dir / "inventory.ini", path / "inventory.ini")
        return Cloud(path)


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cloud, dict[str, Any]]:
    """Deployed at 2025.1, backed up, upgraded to 2025.2; with the backup's lab record."""
    cloud = Cloud(tmp_path_factory.mktemp("rollback"))
    cloud.ok(step("Bootstrap", "bootstrap-servers", "2025.1"))
    cloud.ok(step("Deploy", "deploy", "2025.1"))
    cloud.ok(step("Back up", "mariadb-backup", None, mariadb_backup_type="full"))
    [backup] = lab.read_host_state(cloud.root, "ctl1")["backups"]
    # Ferry's own copy of the backup, as the fetch step leaves it: what a restore puts back.
    store = cloud.context.var_dir / "store" / backup["name"]
    store.mkdir(parents=True)
    shutil.copyfile(cloud.root / "ctl1/volumes/mariadb_backup" / backup["name"] / "ibdata1", store / "data")
    cloud.ok(step("Upgrade", "upgrade", "2025.2"))
    return cloud, {**backup, "store": str(store)}


@pytest.fixture
def cloud(upgraded: tuple[Cloud, dict[str, Any]], tmp_path: Path) -> Cloud:
    return upgraded[0].copy(tmp_path)


def backup_info(backup: dict[str, Any]) -> BackupInfo:
    return BackupInfo(
        1,
        "full",
        "verified",
        backup["name"],
        release="2025.1",
        taken_at="t",
        job_kind="upgrade",
        sha256=backup["sha256"],
        node="ctl1",
        store_path=backup["store"],
    )


def rollback_plan(backup: dict[str, Any]) -> list[PlannedStep]:
    info = backup_info(backup)
    return plan(
        PlanRequest("rollback", RELEASES, "2025.2", params={"backup": 1}, backups=[info], mariabackup=True)
    )


def test_a_naive_deploy_of_the_old_release_stops_at_kollas_downgrade_checks(
    cloud: Cloud, upgraded: tuple[Cloud, dict[str, Any]]
) -> None:
    for planned in restore_steps(backup_info(upgraded[1]), "2025.2")[:-1]:
        cloud.ok(planned)
    result, events = cloud.run(step("Deploy the old release", "deploy", "2025.1"))
    assert result.status == "failed"
    assert "downgrade RabbitMQ from version 4.1 to version 4.0" in str(events.failure_messages()), (
        events.failure_messages()
    )

    result, events = cloud.run(step("Deploy the old nova", "deploy", "2025.1", tags="nova"))
    assert result.status == "failed"
    failures = events.failure_messages()
    assert set(failures) == {"cmp1", "cmp2", "cmp3"}
    assert "downgrade Libvirt in the nova_libvirt container from version 10.10.0" in failures["cmp1"][0]

    # A stopped RabbitMQ passes kolla's check (it compares running containers only), but RabbitMQ
    # itself refuses the data a newer RabbitMQ left: its state must be reset first.
    cloud.ok(step("Stop RabbitMQ", "stop", "2025.2", tags="rabbitmq"))
    result, events = cloud.run(step("Deploy the old RabbitMQ", "deploy", "2025.1", tags="rabbitmq"))
    assert result.status == "failed"
    assert "reset RabbitMQ's state first" in events.failure_messages()["ctl1"][0]


def test_rollback_brings_the_control_plane_back_and_never_stops_the_data_plane(
    cloud: Cloud, upgraded: tuple[Cloud, dict[str, Any]]
) -> None:
    before = {host: cloud.containers(host) for host in ("cmp1", "cmp2", "cmp3", "net1", "ctl1")}
    events = [cloud.ok(planned) for planned in rollback_plan(upgraded[1])]

    for host in ("ctl1", "ctl2"):
        containers = cloud.containers(host)
        assert {containers[name]["release"] for name in CONTROL_PLANE} == {"2025.1"}, host
    restored = json.loads((cloud.root / "ctl1/volumes/mariadb/ibdata1").read_text())["databases"]
    assert restored == json.loads((Path(upgraded[1]["store"]) / "data").read_text())["databases"]
    for host, old in before.items():
        now = cloud.containers(host)
        for name, container in now.items():
            assert container["state"] == "running", (host, name)
            if lab.core.SERVICES_BY_NAME[name].container in DATA_PLANE_CONTAINERS:
                assert container.get("stops", 0) == old[name].get("stops", 0), (host, name, "was stopped")
        for name in KEPT:
            if name in old:
                assert now[name]["tag"] == old[name]["tag"] and now[name]["release"] == "2025.2"
                assert now[name]["restarts"] == old[name]["restarts"], (host, name, "was restarted")
    assert cloud.containers("cmp1")["nova-compute"]["release"] == "2025.1"

    deploy_events = events[-2].dump()
    assert "no RabbitMQ running on ctl" in deploy_events
    assert "nova_libvirt on cmp1 keeps its image" in deploy_events

    # Until the next upgrade, globals must keep libvirt and Open vSwitch at their images.
    deploy = next(planned for planned in rollback_plan(upgraded[1]) if planned.action == "deploy")
    kept = {k: v for k, v in deploy.extra_vars.items() if k.endswith("_tag")}
    result, failed = cloud.run(step("Reconfigure nova", "reconfigure", "2025.1", tags="nova"))
    assert result.status == "failed"
    assert "nova-libvirt on cmp1 runs 2025.2" in failed.failure_messages()["cmp1"][0]
    cloud.ok(step("Reconfigure nova, keeping libvirt", "reconfigure", "2025.1", tags="nova", **kept))
    assert cloud.containers("cmp1")["nova-libvirt"]["restarts"] == before["cmp1"]["nova-libvirt"]["restarts"]
