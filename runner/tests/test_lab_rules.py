"""The lab's rules and helpers that need no Ansible run: release hops, services per host, host state."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import lab

core = lab.core


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        ("2025.1", "2025.1", True),
        ("2025.1", "2025.2", True),
        ("2025.1", "2026.1", True),  # SLURP to the next SLURP
        ("2024.1", "2025.1", True),
        ("2025.2", "2026.1", True),
        ("2025.2", "2026.2", False),  # 2025.2 is not a SLURP
        ("2025.1", "2026.2", False),
        ("2024.1", "2026.1", False),
        ("2022.2", "2023.1", True),
        ("2025.2", "2025.1", False),  # downgrade
    ],
)
def test_legal_upgrade_hops(current: str, target: str, legal: bool) -> None:
    assert (core.hop_problem(current, target) is None) is legal


def test_hop_messages_explain_the_way_forward() -> None:
    assert core.legal_targets("2025.1") == ["2025.2", "2026.1"]
    assert core.legal_targets("2026.2") == ["2027.1"]
    assert core.legal_targets("2027.1") == []
    assert "the next hop is 2025.2 or 2026.1" in core.hop_problem("2025.1", "2026.2")
    assert "restore a database backup" in core.hop_problem("2026.1", "2025.2")
    with pytest.raises(core.LabError):
        core.hop_problem("2025.1", "2099.9")


def test_release_from_tag() -> None:
    assert core.release_from_tag("2026.1-rocky-10") == "2026.1"
    with pytest.raises(core.LabError):
        core.release_from_tag("latest")


def test_a_database_owes_the_online_migrations_of_its_schema_until_they_ran_for_it() -> None:
    created = {"schema": "2025.1", "migrations": [{"to": "2025.1"}]}
    upgraded = {"schema": "2025.2", "migrations": [{"to": "2025.1"}, {"from": "2025.1", "to": "2025.2"}]}
    assert core.online_migrations_pending({**created, "online_migrations": "2025.1"}) is None
    # Data deployed before deploy recorded its online migrations has nothing older to move either.
    assert core.online_migrations_pending({**created, "online_migrations": None}) is None
    assert core.online_migrations_pending({**upgraded, "online_migrations": None}) == "2025.2"
    assert core.online_migrations_pending({**upgraded, "online_migrations": "2025.1"}) == "2025.2"
    assert core.online_migrations_pending({**upgraded, "online_migrations": "2025.2"}) is None
    candidates = ("nova", "nova_api", "nova_cell1", "novatest", "keystone")
    assert [n for n in candidates if core.is_nova_database(n)] == ["nova", "nova_api", "nova_cell1"]


GROUPS = {
    "control": ["ctl1", "ctl2"],
    "network": ["net1"],
    "compute": ["cmp1"],
    "monitoring": ["mon1"],
    "storage": ["sto1"],
    "cell1-control": ["ctl2"],
}


def names(host: str, groups: dict[str, list[str]] = GROUPS, **kwargs: str) -> set[str]:
    return {s.name for s in core.host_services(host, groups, **kwargs)}


def test_services_follow_the_top_level_groups() -> None:
    control = names("ctl1")
    assert {"keystone", "nova-api", "nova-conductor", "mariadb", "rabbitmq", "horizon"} <= control
    assert "haproxy" not in control
    assert names("net1") >= {"haproxy", "keepalived", "neutron-l3-agent", "openvswitch-vswitchd"}
    assert names("cmp1") == {
        "nova-compute",
        "nova-libvirt",
        "nova-ssh",
        "neutron-openvswitch-agent",
        "openvswitch-db-server",
        "openvswitch-vswitchd",
    }
    assert names("mon1") == {"prometheus-server", "grafana"}
    assert names("sto1") == {"cinder-volume", "cinder-backup"}


def test_cell_services_follow_the_cell_conductor_group() -> None:
    assert {"nova-cell-conductor", "nova-novncproxy"} <= names("ctl1")
    assert "nova-cell-conductor" not in names("ctl1", cell_conductor_group="cell1-control")
    assert {"nova-cell-conductor", "nova-novncproxy"} <= names("ctl2", cell_conductor_group="cell1-control")


def test_load_balancer_and_mariadb_fall_back_and_service_groups_win() -> None:
    no_network = {"control": ["ctl1"], "compute": ["cmp1"]}
    assert {"haproxy", "mariadb"} <= names("ctl1", no_network)
    with_groups = {**GROUPS, "mariadb": ["ctl2"], "horizon": ["net1"], "loadbalancer": ["ctl1"]}
    assert "mariadb" not in names("ctl1", with_groups)
    assert {"mariadb", "nova-api"} <= names("ctl2", with_groups)
    assert "horizon" in names("net1", with_groups) and "horizon" not in names("ctl1", with_groups)
    assert "haproxy" in names("ctl1", with_groups) and "haproxy" not in names("net1", with_groups)
    assert core.mariadb_hosts(with_groups) == ["ctl2"]
    assert core.mariadb_hosts(GROUPS) == ["ctl1", "ctl2"]


def test_prepare_lab_and_state_of_an_empty_host(tmp_path: Path) -> None:
    root = lab.prepare_lab(tmp_path / "lab", ["a", "b"])
    assert sorted(p.name for p in root.iterdir()) == ["a", "b"]
    state = lab.read_host_state(root, "a")
    assert state["exists"] and not state["bootstrapped"]
    assert (state["containers"], state["release"], state["mariadb"], state["backups"]) == ({}, None, None, [])
    assert not lab.read_host_state(root, "missing")["exists"]
    with pytest.raises(ValueError):
        lab.prepare_lab(root, ["../escape"])


def test_set_health(tmp_path: Path) -> None:
    root = lab.prepare_lab(tmp_path, ["a"])
    lab.set_health(root, "a", lab.DEGRADED, "disk full")
    assert (lab.read_host_state(root, "a")["health"], lab.read_host_state(root, "a")["health_reason"]) == (
        "degraded",
        "disk full",
    )
    with pytest.raises(ValueError):
        lab.set_health(root, "a", "sick")


def test_lab_extra_vars(tmp_path: Path) -> None:
    assert lab.lab_extra_vars(tmp_path) == {"lab_root": str(tmp_path.resolve())}
    extra = lab.lab_extra_vars(
        tmp_path, fail={"cmp1": ("upgrade",)}, unreachable=["cmp2"], slow_seconds=300, slow_hosts=["cmp3"]
    )
    assert extra["lab_fail"] == {"cmp1": ["upgrade"]}
    assert extra["lab_unreachable"] == ["cmp2"]
    assert (extra["lab_slow_seconds"], extra["lab_slow_hosts"]) == (300, ["cmp3"])


def test_playbooks_have_kolla_names() -> None:
    for name in (
        "site.yml",
        "kolla-host.yml",
        "post-deploy.yml",
        "mariadb-backup.yml",
        "mariadb-recovery.yml",
        "destroy.yml",
    ):
        assert lab.playbook(name).is_file()
    with pytest.raises(FileNotFoundError):
        lab.playbook("nope.yml")


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert lab.sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_kolla_service_groups_decide_conductors() -> None:
    kolla = {
        "control": ["ctl1"],
        "compute": ["cmp1"],
        "cell-control-cell1": ["cc1"],
        "nova-super-conductor": ["ctl1"],
        "nova-conductor": ["cc1"],
        "nova-novncproxy": ["cc1"],
        "cinder-volume": ["ctl1"],
    }
    assert {"nova-conductor", "cinder-volume"} <= names("ctl1", kolla)
    assert not {"nova-cell-conductor", "nova-novncproxy"} & names("ctl1", kolla)
    assert names("cc1", kolla, cell_conductor_group="cell-control-cell1") == {
        "nova-cell-conductor",
        "nova-novncproxy",
    }
    assert names("cc1", kolla) == {"nova-cell-conductor", "nova-novncproxy"}


def test_each_projects_database_bootstrap_runs_on_the_first_host_of_its_api_in_inventory_order() -> None:
    # A cell's conductor listed first, as a play's hosts may come: kolla still picks groups[<api>][0].
    cells = {"all": ["c2ctl1", "cmp1", "ctl2", "ctl1"], "control": ["ctl2", "ctl1"], "compute": ["cmp1"]}
    cells |= {"nova-conductor": ["c2ctl1"], "neutron-server": ["ctl1"]}
    hosts = core.bootstrap_hosts(cells)
    assert hosts["nova"] == hosts["keystone"] == "ctl2"  # the control group's, as the inventory lists them
    assert hosts["neutron"] == "ctl1"  # kolla's group for the service wins
    assert "grafana" not in hosts  # no monitoring host: nothing to bootstrap
