"""The inventory parser, model and renderer, on their own (Ansible's view is in test_inventory_fidelity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.inventory import (
    Inventory,
    InventoryError,
    InventoryGroup,
    ini_value,
    parse_inventory,
    render_inventory,
)

DATA = Path(__file__).resolve().parent / "data"


def write(directory: Path, text: str, **group_vars: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inventory").write_text(text)
    for name, body in group_vars.items():
        (directory / "group_vars").mkdir(exist_ok=True)
        (directory / "group_vars" / f"{name}.yml").write_text(body)
    return directory


def test_syntax_fixture_reads_like_ansible() -> None:
    inv = parse_inventory(DATA / "syntax")
    assert list(inv.hosts)[:3] == ["bastion", "lonely", "ctl1"]
    assert inv.groups["control"].hosts == ["ctl1", "ctl2", "ctl3"]
    assert inv.hosts["ctl2"] == {"ansible_port": "2222", "ansible_user": "kolla", "api_interface": "eth1"}
    assert inv.groups["compute"].hosts[:4] == ["cmp01", "cmp04", "cmp07", "cmp10"]
    assert inv.hosts["gpub"] == {
        "quoted": "with spaces",
        "hash": "a#b",
        "empty": "",
        "equals": "a=b",
        "number": "42",
        "listy": "[1, 2]",
        "flag": "True",
    }
    assert inv.groups["storage"].children == ["ceph"]
    assert inv.groups["control"].vars["api_interface"] == "bond0"
    assert (
        inv.groups["control"].vars["plain"]
        == "no quotes here # not a comment in a vars section: Ansible keeps this text"
    )
    assert inv.group_vars["control"] == {
        "network_interface": "eth0",
        "x": 2,
        "nested": {"a": [1, 2], "b": "{{ network_interface }}"},
    }
    # group_vars/compute (no extension) shadows group_vars/compute.yml, as in Ansible.
    assert inv.group_vars["compute"] == {"nova_compute_virt_type": "kvm"}
    assert inv.host_vars == {"ctl1": {"api_interface": "eth9"}}


def test_effective_groups_follow_children_and_ungrouped() -> None:
    inv = parse_inventory(DATA / "syntax")
    assert inv.effective_groups("osd1") == {"all", "ceph", "storage"}
    assert inv.effective_groups("bastion") == {"all", "ceph", "storage"}
    assert inv.effective_groups("lonely") == {"all", "ungrouped"}
    members = inv.group_members()
    assert members["storage"] == {"osd1", "bastion"}
    assert members["ungrouped"] == {"lonely"}
    assert inv.members("all") == set(inv.hosts)


def test_ini_value_evaluates_like_ansible() -> None:
    assert ini_value("9000") == 9000
    assert ini_value('"hello world"') == "hello world"
    assert ini_value("true") == "true"
    assert ini_value("True") is True
    assert ini_value("[1, 2]") == [1, 2]
    assert ini_value("no quotes") == "no quotes"


def test_kolla_multinode_groups(kolla_install) -> None:
    inv = parse_inventory(kolla_install.example_inventory("multinode"))
    assert inv.groups["control"].hosts == ["control01", "control02", "control03"]
    assert inv.hosts["localhost"] == {"ansible_connection": "local"}
    assert {"compute", "openvswitch", "hacluster-remote"} <= inv.effective_groups("compute01")
    assert inv.members("nova-api") == {"control01", "control02", "control03"}
    assert inv.cells() == []


def test_cells_of_the_cells_guide_inventory() -> None:
    inv = parse_inventory(DATA / "cells")
    cells = inv.cells()
    assert [(c.name, c.group) for c in cells] == [("cell1", "cell1"), ("cell2", "cell2")]
    cell1, cell2 = cells
    assert cell1.hosts == {"compute01", "compute02", "cell-control01"}
    assert cell1.computes == {"compute01", "compute02"}
    assert cell2.computes == {"compute03", "compute04"}
    assert cell1.variables["nova_cell_conductor_group"] == "cell-control-cell1"
    assert cell2.variables["nova_novncproxy_port"] == 6082
    assert inv.members("nova-conductor") == {"cell-control01", "cell-control02"}


def test_cell_from_ini_vars_and_default_compute_group(tmp_path: Path) -> None:
    inv = parse_inventory(
        write(
            tmp_path,
            "[compute]\nc1\nc2\n[control]\nctl1\n[cellA]\nc1\nctl1\n[cellA:vars]\nnova_cell_name='cella'\n",
        )
    )
    (cell,) = inv.cells()
    # Without nova_cell_compute_group kolla-ansible uses `compute`: the cell's computes are
    # its hosts in that group.
    assert (cell.name, cell.hosts, cell.computes) == ("cella", {"c1", "ctl1"}, {"c1"})


def test_render_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    inv = parse_inventory(DATA / "cells")
    first = render_inventory(inv, tmp_path / "a")
    second = render_inventory(parse_inventory(first), tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    for name in ("cell1", "cell2"):
        a = (tmp_path / "a" / "group_vars" / f"{name}.yml").read_bytes()
        assert a == (tmp_path / "b" / "group_vars" / f"{name}.yml").read_bytes()
    assert parse_inventory(first) == inv


def test_render_removes_stale_vars_files(tmp_path: Path) -> None:
    inv = parse_inventory(DATA / "cells")
    render_inventory(inv, tmp_path)
    del inv.group_vars["cell2"]
    render_inventory(inv, tmp_path)
    assert sorted(p.name for p in (tmp_path / "group_vars").iterdir()) == ["cell1.yml"]


def test_render_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    bad_value = Inventory(hosts={"h1": {"note": "two\nlines"}}, groups={"g": InventoryGroup("g", ["h1"])})
    with pytest.raises(InventoryError, match="host h1: value of note cannot be written"):
        render_inventory(bad_value, tmp_path)
    missing_host = Inventory(groups={"g": InventoryGroup("g", ["ghost"])})
    with pytest.raises(InventoryError, match="group g lists host ghost"):
        render_inventory(missing_host, tmp_path)
    loop = Inventory(
        groups={"a": InventoryGroup("a", children=["b"]), "b": InventoryGroup("b", children=["a"])}
    )
    with pytest.raises(InventoryError, match="a -> b -> a"):
        render_inventory(loop, tmp_path)


def big_inventory_text(cells: int = 50, per_cell: int = 100) -> tuple[str, dict[str, str]]:
    """kolla multinode-shaped: 3 controllers, then CELLS cells of 2 conductors and the rest computes."""
    lines = ["[control]", "control[01:03]", "", "[compute:children]"]
    lines += [f"compute-cell{c:02d}" for c in range(cells)]
    lines += ["", "[nova-conductor:children]", *[f"cell-control-cell{c:02d}" for c in range(cells)]]
    group_vars = {}
    for c in range(cells):
        name = f"cell{c:02d}"
        lines += ["", f"[{name}:children]", f"compute-{name}", f"cell-control-{name}"]
        lines += ["", f"[cell-control-{name}]"]
        lines += [f"{name}-ctl{i} ansible_host=10.{c}.0.{i}" for i in range(2)]
        lines += ["", f"[compute-{name}]"]
        lines += [
            f"{name}-cmp{i:03d} ansible_host=10.{c}.{i // 200 + 1}.{i % 200}" for i in range(per_cell - 2)
        ]
        group_vars[name] = (
            f"nova_cell_name: {name}\nnova_cell_compute_group: compute-{name}\n"
            f"nova_cell_conductor_group: cell-control-{name}\n"
        )
    return "\n".join(lines) + "\n", group_vars


def test_five_thousand_hosts_in_fifty_cells_parse_render_and_form_their_cells(tmp_path: Path) -> None:
    # How long this takes is measured by `python -m bench.inventory_scale` (docs/benchmarks.md).
    text, group_vars = big_inventory_text()
    inv = parse_inventory(write(tmp_path / "src", text, **group_vars))
    out = render_inventory(inv, tmp_path / "out")
    cells = inv.cells()
    assert len(inv.hosts) == 5003
    assert len(cells) == 50 and all(len(cell.computes) == 98 for cell in cells)
    assert parse_inventory(out) == inv
