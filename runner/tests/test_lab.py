"""The lab backend, run for real: ansible-playbook through run_step against host directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner import lab
from runner.execute import StepSpec, run_step
from runner.tests.lab_fixtures import SMALL_CLOUD_HOSTS, Collector, LabCloud, new_cloud

pytestmark = pytest.mark.ansible

CONTROL = ("ctl1", "ctl2")
COMPUTE = ("cmp1", "cmp2", "cmp3")
TAG_2025_1 = "2025.1-rocky-9"
TAG_2025_2 = "2025.2-rocky-10"


@pytest.fixture
def deployed(deployed_lab_template: tuple[LabCloud, Collector]) -> tuple[LabCloud, Collector]:
    """The small cloud bootstrapped and deployed at 2025.1 (once per run), with the deploy's events."""
    return deployed_lab_template


@pytest.fixture
def cloud(deployed_lab: LabCloud) -> LabCloud:
    """A private copy of the deployed small cloud."""
    return deployed_lab


def tags(cloud: LabCloud, host: str) -> dict[str, str]:
    return {name: c["tag"] for name, c in cloud.state(host)["containers"].items()}


def test_deploy_builds_every_host_from_its_groups(deployed: tuple[LabCloud, Collector]) -> None:
    cloud, _ = deployed
    for host in SMALL_CLOUD_HOSTS:
        state = cloud.state(host)
        assert state["bootstrapped"] and state["health"] == "healthy"
        assert state["release"] == "2025.1"
        assert all(c["state"] == "running" and c["tag"] == TAG_2025_1 for c in state["containers"].values())
        for name, container in state["containers"].items():
            assert container["config_checksum"] == state["config"][name]
    control = set(cloud.state("ctl1")["containers"])
    assert {
        "keystone",
        "glance-api",
        "nova-api",
        "nova-scheduler",
        "nova-conductor",
        "nova-cell-conductor",
        "nova-novncproxy",
        "neutron-server",
        "placement-api",
        "horizon",
        "mariadb",
        "rabbitmq",
        "memcached",
        "cinder-api",
    } <= control
    assert "nova-compute" not in control and "haproxy" not in control
    assert set(cloud.state("net1")["containers"]) >= {
        "haproxy",
        "keepalived",
        "neutron-l3-agent",
        "neutron-dhcp-agent",
        "neutron-metadata-agent",
        "openvswitch-vswitchd",
    }
    compute = cloud.state("cmp2")
    assert set(compute["containers"]) == {
        "nova-compute",
        "nova-libvirt",
        "nova-ssh",
        "neutron-openvswitch-agent",
        "openvswitch-db-server",
        "openvswitch-vswitchd",
    }
    assert compute["mariadb"] is None
    assert compute["containers"]["nova-compute"]["image"] == "quay.io/openstack.kolla/nova-compute"
    nova_conf = (cloud.root / "cmp2" / "etc/kolla/nova-compute/nova.conf").read_text()
    assert "/nova_cell1" in nova_conf and "virt_type = kvm" in nova_conf


def test_deploy_initialises_the_mariadb_cluster(deployed: tuple[LabCloud, Collector]) -> None:
    cloud, _ = deployed
    primary, replica = cloud.state("ctl1")["mariadb"], cloud.state("ctl2")["mariadb"]
    assert primary["sha256"] == replica["sha256"]
    assert primary["databases"] == {
        name: "2025.1"
        for name in (
            "cinder",
            "glance",
            "keystone",
            "neutron",
            "nova_api",
            "nova_cell0",
            "nova_cell1",
            "placement",
        )
    }
    # A database created at a release has no older data for online migrations to move.
    assert primary["online_migrations"] == primary["databases"]
    assert lab.sha256_file(primary["path"]) == primary["sha256"]


def test_deploy_events_are_complete_and_in_order(deployed: tuple[LabCloud, Collector]) -> None:
    _, events = deployed
    assert events.counters == list(range(1, len(events.events) + 1))
    assert len({e["uuid"] for e in events.events}) == len(events.events)
    assert events.events[-1]["event"] == "playbook_on_stats"
    items = [e["event_data"]["res"]["item"] for e in events.of("runner_item_on_ok", "cmp1")]
    assert {i["name"] for i in items if isinstance(i, dict)} >= {"nova-compute", "nova-libvirt"}
    plays = [e["event_data"]["play"] for e in events.of("playbook_on_play_start")]
    assert plays[:3] == ["Gather facts for all hosts", "Apply role loadbalancer", "Apply role mariadb"]


def test_deploy_again_changes_nothing(cloud: LabCloud) -> None:
    before = {h: cloud.state(h)["containers"] for h in SMALL_CLOUD_HOSTS}
    result, _ = cloud.run("site.yml", action="deploy")
    assert result.status == "successful"
    assert not any(result.stats["changed"].values())
    assert {h: cloud.state(h)["containers"] for h in SMALL_CLOUD_HOSTS} == before


def test_upgrade_moves_every_container_and_schema_to_the_next_release(cloud: LabCloud) -> None:
    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": "2025.2", "kolla_serial": 0}
    )
    assert result.status == "successful", events.failure_messages()
    for host in SMALL_CLOUD_HOSTS:
        state = cloud.state(host)
        assert state["releases"] == ["2025.2"]
        assert set(tags(cloud, host).values()) == {TAG_2025_2}
    assert set(cloud.state("ctl1")["mariadb"]["databases"].values()) == {"2025.2"}
    assert cloud.state("ctl2")["mariadb"] == {
        **cloud.state("ctl1")["mariadb"],
        "path": cloud.state("ctl2")["mariadb"]["path"],
    }
    assert cloud.state("cmp1")["containers"]["nova-compute"]["restarts"] >= 1


def test_prechecks_refuse_an_illegal_hop_and_change_nothing(cloud: LabCloud) -> None:
    before = tags(cloud, "ctl1")
    result, events = cloud.run("site.yml", action="prechecks", extra={"openstack_release": "2026.2"})
    assert result.status == "failed"
    assert set(result.hosts_with("failures")) == set(SMALL_CLOUD_HOSTS)
    for host, messages in events.failure_messages().items():
        assert any("2025.1 -> 2026.2 is not a legal upgrade hop" in m and host in m for m in messages)
    assert tags(cloud, "ctl1") == before


def test_upgrade_refuses_an_illegal_hop(cloud: LabCloud) -> None:
    result, events = cloud.run("site.yml", action="upgrade", extra={"openstack_release": "2026.2"})
    assert result.status == "failed"
    assert all("refusing to upgrade" in m[0] for m in events.failure_messages().values())
    assert set(tags(cloud, "cmp1").values()) == {TAG_2025_1}
    assert set(cloud.state("ctl1")["mariadb"]["databases"].values()) == {"2025.1"}


def test_prechecks_accept_a_skip_from_slurp_to_slurp(cloud: LabCloud) -> None:
    result, events = cloud.run("site.yml", action="prechecks", extra={"openstack_release": "2026.1"})
    assert result.status == "successful", events.failure_messages()


def test_prechecks_fail_on_a_degraded_host(cloud: LabCloud) -> None:
    lab.set_health(cloud.root, "cmp3", lab.DEGRADED, "libvirt keeps crashing")
    result, events = cloud.run("site.yml", action="prechecks")
    assert result.status == "failed"
    assert result.hosts_with("failures") == ["cmp3"]
    assert "cmp3 is degraded (libvirt keeps crashing)" in events.failure_messages()["cmp3"][0]


def test_staged_cell_upgrade_with_tags_and_limit(cloud: LabCloud) -> None:
    up = {"openstack_release": "2025.2"}

    result, _ = cloud.run("site.yml", action="upgrade", extra=up, tags="nova-bootstrap")
    assert result.status == "successful"
    schemas = cloud.state("ctl1")["mariadb"]["databases"]
    assert (schemas["nova_api"], schemas["nova_cell0"], schemas["nova_cell1"]) == (
        "2025.2",
        "2025.2",
        "2025.1",
    )
    assert set(tags(cloud, "ctl1").values()) == {TAG_2025_1}

    result, _ = cloud.run("site.yml", action="upgrade", extra=up, tags="nova-api-upgrade")
    assert result.status == "successful"
    control = tags(cloud, "ctl2")
    assert control["nova-api"] == control["nova-scheduler"] == control["nova-conductor"] == TAG_2025_2
    assert control["nova-cell-conductor"] == control["keystone"] == TAG_2025_1
    assert tags(cloud, "cmp1")["nova-compute"] == TAG_2025_1

    result, events = cloud.run(
        "site.yml", action="upgrade", extra=up, tags="nova-cell-upgrade", limit="cell1"
    )
    assert result.status == "successful", events.failure_messages()
    assert set(result.stats["processed"]) == {"ctl1", "ctl2", "cmp1", "cmp2", "cmp3"}
    assert tags(cloud, "cmp3")["nova-compute"] == tags(cloud, "ctl1")["nova-cell-conductor"] == TAG_2025_2
    assert tags(cloud, "cmp3")["neutron-openvswitch-agent"] == TAG_2025_1
    assert cloud.state("ctl2")["mariadb"]["databases"]["nova_cell1"] == "2025.2"

    restarts = cloud.state("cmp1")["containers"]["nova-compute"]["restarts"]
    result, _ = cloud.run(
        "site.yml", action="upgrade", extra=up, tags="nova-reload,nova-online-data-migrations"
    )
    assert result.status == "successful"
    assert cloud.state("cmp1")["containers"]["nova-compute"]["restarts"] == restarts + 1
    migrations = cloud.state("ctl1")["mariadb"]["online_migrations"]
    assert {migrations[n] for n in ("nova_api", "nova_cell0", "nova_cell1")} == {"2025.2"}
    # nova's online data migrations leave other projects' databases as their deploy left them.
    assert migrations["keystone"] == "2025.1"


def test_reconfigure_rewrites_config_and_restarts_only_what_changed(cloud: LabCloud) -> None:
    before = {h: cloud.state(h)["containers"] for h in SMALL_CLOUD_HOSTS}
    result, _ = cloud.run("site.yml", action="reconfigure", extra={"nova_compute_virt_type": "qemu"})
    assert result.status == "successful"
    for host in SMALL_CLOUD_HOSTS:
        after = cloud.state(host)["containers"]
        for name, container in after.items():
            restarted = container["restarts"] - before[host][name]["restarts"]
            assert restarted == (1 if name == "nova-compute" else 0), (host, name)
    assert "virt_type = qemu" in (cloud.root / "cmp1/etc/kolla/nova-compute/nova.conf").read_text()


def test_genconfig_then_validate_config_and_check(cloud: LabCloud) -> None:
    result, _ = cloud.run("site.yml", action="genconfig", extra={"openstack_logging_debug": "True"})
    assert result.status == "successful"
    assert "debug = True" in (cloud.root / "ctl1/etc/kolla/keystone/keystone.conf").read_text()
    result, _ = cloud.run("site.yml", action="validate-config")
    assert result.status == "successful"
    # The containers still run with the old configuration until a reconfigure restarts them.
    result, events = cloud.run("site.yml", action="check", extra={"openstack_logging_debug": "True"})
    assert result.status == "failed"
    # The load balancers fail first, and a play whose every host failed ends the playbook.
    assert "outdated configuration" in events.failure_messages()["net1"][0]

    (cloud.root / "cmp2/etc/kolla/nova-compute/nova.conf").write_text("not [ini")
    result, events = cloud.run("site.yml", action="validate-config", tags="nova")
    assert result.hosts_with("failures") == ["cmp2"]
    assert "nova.conf does not parse" in events.failure_messages()["cmp2"][0]


def test_stop_then_check_fails_and_deploy_starts_again(cloud: LabCloud) -> None:
    result, _ = cloud.run("site.yml", action="stop", limit="compute")
    assert result.status == "successful"
    assert {c["state"] for c in cloud.state("cmp1")["containers"].values()} == {"stopped"}
    assert {c["state"] for c in cloud.state("ctl1")["containers"].values()} == {"running"}
    result, events = cloud.run("site.yml", action="check")
    assert sorted(result.hosts_with("failures")) == list(COMPUTE)
    assert "is stopped" in events.failure_messages()["cmp1"][0]
    result, _ = cloud.run("site.yml", action="deploy")
    assert {c["state"] for c in cloud.state("cmp1")["containers"].values()} == {"running"}


def test_pull_records_images_of_the_target_release(cloud: LabCloud) -> None:
    result, _ = cloud.run("site.yml", action="pull", extra={"openstack_release": "2025.2"})
    assert result.status == "successful"
    assert "quay.io/openstack.kolla/nova-compute:2025.2-rocky-10" in cloud.state("cmp1")["images"]


def store_copy(cloud: LabCloud, store: Path, name: str) -> dict:
    """Ferry's copy of a backup on ctl1, as the fetch step leaves it: ``data`` and the node's meta.json."""
    source = cloud.root / "ctl1/volumes/mariadb_backup" / name
    (store / name).mkdir(parents=True)
    shutil.copyfile(source / "ibdata1", store / name / "data")
    shutil.copyfile(source / "meta.json", store / name / "meta.json")
    meta = json.loads((source / "meta.json").read_text())
    return {
        "id": len(list(store.iterdir())),
        "kind": meta["type"],
        "name": name,
        "sha256": meta["sha256"],
        "store": str(store / name),
    }


def restore(cloud: LabCloud, chain: list[dict], node: str = "ctl1") -> list[tuple[str, Collector]]:
    """The steps of a restore plan, in order, until one fails: push, stop, restore, recover."""
    user = {"ferry_restore_chain": chain, "ferry_restore_node": node}
    done = []
    for playbook, action, extra, tags in (
        ("ferry-backup-push.yml", None, user, None),
        ("site.yml", "stop", {}, "mariadb"),
        ("ferry-mariadb-restore.yml", None, user, None),
        ("mariadb-recovery.yml", None, {"mariadb_recover_inventory_name": node}, None),
    ):
        result, events = cloud.run(playbook, action=action, extra=extra, tags=tags)
        done.append((result.status, events))
        if result.status != "successful":
            break
    return done


def databases(cloud: LabCloud, host: str = "ctl1") -> dict:
    return json.loads((cloud.root / host / "volumes/mariadb/ibdata1").read_text())["databases"]


def write_row(cloud: LabCloud, row: dict) -> None:
    for host in CONTROL:  # the cluster replicates every write
        path = cloud.root / host / "volumes/mariadb/ibdata1"
        data = json.loads(path.read_text())
        data["databases"]["keystone"]["rows"].append(row)
        data["seq"] += 1
        path.write_text(json.dumps(data))


def test_a_restore_brings_back_the_chosen_full_backup_on_every_host(cloud: LabCloud, tmp_path: Path) -> None:
    result, _ = cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "full"})
    assert result.status == "successful"
    assert set(result.stats["processed"]) == set(CONTROL)
    [backup] = cloud.state("ctl1")["backups"]
    assert backup["type"] == "full" and backup["sha256"] == cloud.state("ctl1")["mariadb"]["sha256"]
    content = databases(cloud)
    full = store_copy(cloud, tmp_path / "store", backup["name"])
    write_row(cloud, {"id": 999, "name": "written-after-the-backup"})
    shutil.rmtree(cloud.root / "ctl1/volumes/mariadb_backup")  # only Ferry's store holds it now

    steps = restore(cloud, [full])
    assert [status for status, _ in steps] == ["successful"] * 4, steps[-1][1].failure_messages()
    for host in CONTROL:
        assert databases(cloud, host) == content
        assert cloud.state(host)["containers"]["mariadb"]["state"] == "running"
    [bootstrap] = [
        e
        for e in steps[3][1].of("runner_on_ok")
        if e["event_data"]["task"] == "Bootstrapping the cluster from one host"
    ]
    assert bootstrap["event_data"]["res"]["bootstrap_host"] == "ctl1"


def test_an_incremental_restore_applies_the_full_backup_then_each_increment_in_order(
    cloud: LabCloud, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "full"})
    write_row(cloud, {"id": 1000, "name": "in-the-first-increment"})
    cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "incremental"})
    write_row(cloud, {"id": 1001, "name": "in-the-second-increment"})
    cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "incremental"})
    expected = databases(cloud)
    full, first, second = cloud.state("ctl1")["backups"]
    assert (first["base"], second["base"], second["parent"]) == (full["name"], first["name"], full["name"])
    # An increment holds only what changed: alone it is not the database.
    increment = json.loads(
        (cloud.root / "ctl1/volumes/mariadb_backup" / second["name"] / "ibdata1").read_text()
    )
    assert set(increment["changed"]) == {"keystone"}
    chain = [store_copy(cloud, store, b["name"]) for b in (full, first, second)]
    write_row(cloud, {"id": 1002, "name": "written-after-the-backups"})

    out_of_order = restore(cloud, [chain[0], chain[2]])
    assert out_of_order[-1][0] == "failed"
    assert f"applies on top of {first['name']}" in out_of_order[-1][1].failure_messages()["ctl1"][0]
    steps = restore(cloud, chain)
    assert [status for status, _ in steps] == ["successful"] * 4, steps[-1][1].failure_messages()
    assert databases(cloud) == databases(cloud, "ctl2") == expected
    applied = [
        e["event_data"]["res"]["applied"]
        for e in steps[2][1].of("runner_item_on_ok")
        if e["event_data"]["task"] == "Applying each increment in order"
    ]
    assert applied == [first["name"], second["name"]]


def test_a_tampered_copy_in_ferrys_store_fails_the_push_and_leaves_the_database_alone(
    cloud: LabCloud, tmp_path: Path
) -> None:
    cloud.run("mariadb-backup.yml")
    [backup] = cloud.state("ctl1")["backups"]
    full = store_copy(cloud, tmp_path / "store", backup["name"])
    Path(full["store"], "data").write_text('{"databases": {}}')
    write_row(cloud, {"id": 999, "name": "written-after-the-backup"})
    before = {host: cloud.state(host)["mariadb"]["sha256"] for host in CONTROL}

    [(status, events)] = restore(cloud, [full])
    assert status == "failed"
    message = events.failure_messages()["ctl1"][0]
    assert f"Ferry's copy of backup #1 ({backup['name']}) has sha256" in message and "damaged" in message
    assert {host: cloud.state(host)["mariadb"]["sha256"] for host in CONTROL} == before
    assert all(cloud.state(h)["containers"]["mariadb"]["state"] == "running" for h in CONTROL)


def test_the_restore_step_refuses_to_run_under_a_running_mariadb(cloud: LabCloud, tmp_path: Path) -> None:
    cloud.run("mariadb-backup.yml")
    [backup] = cloud.state("ctl1")["backups"]
    user = {
        "ferry_restore_chain": [store_copy(cloud, tmp_path / "store", backup["name"])],
        "ferry_restore_node": "ctl1",
    }
    before = cloud.state("ctl1")["mariadb"]["sha256"]
    result, events = cloud.run("ferry-mariadb-restore.yml", extra=user)
    assert result.status == "failed"
    assert "MariaDB runs on ctl1, ctl2: stop it on every host first" in events.failure_messages()["ctl1"][0]
    assert cloud.state("ctl1")["mariadb"]["sha256"] == before


def test_recovery_without_a_host_bootstraps_from_the_data_furthest_along(cloud: LabCloud) -> None:
    write_row(cloud, {"id": 999, "name": "only-on-ctl2"})
    ahead = cloud.root / "ctl2/volumes/mariadb/ibdata1"
    data = json.loads(ahead.read_text())
    data["seq"] += 10
    ahead.write_text(json.dumps(data))
    result, events = cloud.run("mariadb-recovery.yml")
    assert result.status == "successful", events.failure_messages()
    assert cloud.state("ctl1")["mariadb"]["sha256"] == lab.sha256_file(ahead)
    assert cloud.state("ctl1")["backups"] == []  # recovery restores no backup


def test_incremental_backup_needs_a_full_parent(cloud: LabCloud) -> None:
    result, events = cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "incremental"})
    assert result.status == "failed"
    assert "no full backup on ctl1" in events.failure_messages()["ctl1"][0]
    cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "full"})
    result, _ = cloud.run("mariadb-backup.yml", extra={"mariadb_backup_type": "incremental"})
    assert result.status == "successful"
    full, incremental = cloud.state("ctl1")["backups"]
    assert (full["type"], incremental["type"], incremental["parent"]) == ("full", "incremental", full["name"])


def test_injected_failure_fails_the_step_and_names_the_host(cloud: LabCloud) -> None:
    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": "2025.2"}, fail={"cmp2": ["upgrade"]}
    )
    assert result.status == "failed"
    assert result.hosts_with("failures") == ["cmp2"]
    message = events.failure_messages()["cmp2"][0]
    assert message.startswith("upgrade of ") and message.endswith(
        "failed on cmp2 (failure injected by lab_fail)"
    )
    assert set(tags(cloud, "cmp1").values()) == {TAG_2025_2}
    assert tags(cloud, "cmp2")["nova-compute"] == TAG_2025_1


def test_failure_injection_can_target_one_service(cloud: LabCloud) -> None:
    result, events = cloud.run("site.yml", action="check", fail={"net1": ["check:neutron-l3-agent"]})
    assert result.hosts_with("failures") == ["net1"]
    [failed] = events.of("runner_item_on_failed", "net1")
    assert failed["event_data"]["res"]["item"]["name"] == "neutron-l3-agent"


def test_nova_bootstrap_runs_on_the_first_api_host_whichever_host_the_play_starts_with(
    cloud: LabCloud,
) -> None:
    # Every other nova host fails its upgrade tasks; kolla delegates the bootstrap to ctl1 alone.
    fail = {host: ["upgrade"] for host in ("ctl2", *COMPUTE)}
    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": "2025.2"}, tags="nova-bootstrap", fail=fail
    )
    assert result.status == "successful", events.failure_messages()
    [ran] = [
        e for e in events.of("runner_on_ok") if e["event_data"]["task"] == "Running nova bootstrap container"
    ]
    assert ran["event_data"]["res"]["_ansible_delegated_vars"]["ansible_host"] == "ctl1"
    assert cloud.state("ctl1")["mariadb"]["databases"]["nova_api"] == "2025.2"


def test_unreachable_host_is_reported_unreachable(cloud: LabCloud) -> None:
    result, events = cloud.run("site.yml", action="check", unreachable=["cmp3"])
    assert result.status == "failed"
    assert result.hosts_with("dark") == ["cmp3"]
    assert not result.hosts_with("failures")
    [event] = events.of("runner_on_unreachable")
    assert event["event_data"]["host"] == "cmp3"
    assert "cmp3" in event["event_data"]["res"]["msg"]


def test_a_host_without_directory_is_unreachable(cloud: LabCloud) -> None:
    lab.core.remove_tree(cloud.root / "net1")
    result, events = cloud.run("site.yml", action="check")
    assert result.hosts_with("dark") == ["net1"]
    assert "does not exist" in events.failure_messages()["net1"][0]


def test_post_deploy_writes_openrc_and_the_password_is_masked(cloud: LabCloud) -> None:
    password = "S3cret-admin-pw"
    result, events = cloud.run(
        "post-deploy.yml", extra={"keystone_admin_password": password}, secrets=[password]
    )
    assert result.status == "successful"
    assert f"export OS_PASSWORD='{password}'" in (cloud.root / "ctl1/etc/kolla/admin-openrc.sh").read_text()
    assert password not in events.dump()


def test_destroy_removes_containers_config_and_volumes(cloud: LabCloud) -> None:
    result, _ = cloud.run("destroy.yml")
    assert result.status == "successful"
    for host in SMALL_CLOUD_HOSTS:
        state = cloud.state(host)
        assert (state["containers"], state["config"], state["mariadb"], state["backups"]) == (
            {},
            {},
            None,
            [],
        )
        assert state["bootstrapped"]


def test_deploy_needs_bootstrap_servers(tmp_path: Path) -> None:
    fresh = new_cloud(tmp_path)
    result, events = fresh.run("site.yml", action="deploy")
    assert result.status == "failed"
    assert "run bootstrap-servers first" in events.failure_messages()["net1"][0]


def test_deploy_over_an_older_release_asks_for_upgrade(cloud: LabCloud) -> None:
    result, events = cloud.run("site.yml", action="deploy", extra={"openstack_release": "2025.2"})
    assert result.status == "failed"
    assert "is an upgrade: run upgrade" in events.failure_messages()["ctl1"][0]


CELLS_INVENTORY = Path(__file__).parent / "data" / "cells"


@pytest.mark.skipif(not (CELLS_INVENTORY / "inventory").exists(), reason="no kolla cells inventory")
def test_deploy_with_kolla_own_multinode_cells_inventory(tmp_path: Path) -> None:
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    shutil.copytree(CELLS_INVENTORY, tmp_path / "cells")
    inventory = tmp_path / "cells" / "inventory"
    hosts = [h.name for h in InventoryManager(DataLoader(), str(inventory)).get_hosts()]
    cloud = LabCloud(lab.prepare_lab(tmp_path / "lab", hosts), "", hosts, tmp_path / "runs")
    for book, extra in (("kolla-host.yml", {}), ("site.yml", {"kolla_action": "deploy"})):
        result = run_step(
            StepSpec(
                playbook=lab.playbook(book),
                inventory=inventory,
                extra_vars={**lab.lab_extra_vars(cloud.root), **extra},
            ),
            sink=Collector(),
            should_cancel=lambda: False,
        )
        assert result.status == "successful"
    assert set(cloud.state("cell-control02")["containers"]) == {"nova-cell-conductor", "nova-novncproxy"}
    assert "nova-conductor" in cloud.state("control03")["containers"]
    assert "nova-cell-conductor" not in cloud.state("control03")["containers"]
    assert "nova-compute" in cloud.state("compute04")["containers"]
    databases = cloud.state("control01")["mariadb"]["databases"]
    assert databases["nova_cell1"] == databases["nova_cell2"] == "2025.1"
    assert "/nova_cell2\n" in (cloud.root / "compute04/etc/kolla/nova-compute/nova.conf").read_text()


def test_a_clouds_config_overrides_reach_the_rendered_config(cloud: LabCloud) -> None:
    from runner.backends import ConfigFile, lab_config_overrides

    overrides = lab_config_overrides(
        [
            ConfigFile("config", "nova.conf", b"[DEFAULT]\nmy_ip_note = from-config-nova\n"),
            ConfigFile("config", "nova/nova-compute.conf", b"[libvirt]\ncpu_mode = host-passthrough\n"),
            ConfigFile(
                "config", "nova/ceph.client.nova.keyring", b"[client.nova]\nkey = AQB==\n", secret=True
            ),
        ]
    )
    result, _ = cloud.run("site.yml", action="reconfigure", extra={"lab_config_overrides": overrides})
    assert result.status == "successful"
    rendered = (cloud.root / "cmp1/etc/kolla/nova-compute/nova.conf").read_text()
    assert "cpu_mode = host-passthrough" in rendered and "my_ip_note = from-config-nova" in rendered
