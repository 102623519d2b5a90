"""Inventories Ferry refuses, and how the refusal names the line or object at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.inventory import InventoryError, parse_inventory


def parse_text(tmp_path: Path, text: str, **group_vars: str):
    (tmp_path / "inventory").write_text(text)
    if group_vars:
        (tmp_path / "group_vars").mkdir()
        for name, body in group_vars.items():
            (tmp_path / "group_vars" / name).write_text(body)
    return parse_inventory(tmp_path)


@pytest.mark.parametrize(
    ("text", "line", "obj", "words"),
    [
        ("[control]\nctl1\n[compute\ncmp1\n", 3, "[compute", "malformed section header: [compute"),
        ("[control]\nctl1 api_interface\n", 2, "ctl1", "expected key=value, got 'api_interface'"),
        ("[control]\nctl1 9lives=yes\n", 2, "host ctl1", "'9lives' is not a variable name"),
        ("[control]\nctl1\n[control:vars]\nmtu 9000\n", 4, "control", "expected key=value, got 'mtu 9000'"),
        ("[control]\nctl1 note='unclosed\n", 2, "ctl1 note='unclosed", "cannot split host line"),
        ("[control:things]\n", 1, "control", "unknown type 'things'"),
        ("[compute]\ncmp[1:x]\n", 2, "cmp[1:x]", "bad host range"),
        ("[compute]\ncmp[01:9]\n", 2, "cmp[01:9]", "bad host range"),
        ("[compute]\nfe80::1\n", 2, "fe80::1", "host name 'fe80::1' is not supported"),
        ("[a:children]\nb\n[c:children]\nb\n", 2, "b", "[a:children] lists group b, which is never defined"),
        ("[a]\nh\n[typo:vars]\nx=1\n", 3, "typo", "[typo:vars] is for group typo, which is never defined"),
        ("[a:children]\nb\n[b:children]\na\n", 4, "a", "groups contain each other: a -> b -> a"),
        ("[a:children]\nall\n", 2, "a", "[a:children] lists all"),
    ],
)
def test_syntax_errors_name_their_line(tmp_path: Path, text: str, line: int, obj: str, words: str) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_text(tmp_path, text)
    error = caught.value
    assert (error.line, error.obj) == (line, obj)
    assert words in error.message
    assert str(error).startswith(f"{tmp_path / 'inventory'}, line {line}: ")


CELLS = """
[compute:children]
compute-cell1
compute-cell2
[compute-cell1]
c1
[compute-cell2]
c2
[cell1:children]
compute-cell1
[cell2:children]
compute-cell2
"""


def cell_vars(name: str, compute_group: str | None = None) -> str:
    return f"nova_cell_name: {name}\n" + (
        f"nova_cell_compute_group: {compute_group}\n" if compute_group else ""
    )


def test_host_in_two_cells(tmp_path: Path) -> None:
    inv = parse_text(
        tmp_path,
        CELLS + "[compute-cell2:children]\nshared\n[shared]\nc1\n",
        cell1=cell_vars("cell1", "compute-cell1"),
        cell2=cell_vars("cell2", "compute-cell2"),
    )
    with pytest.raises(InventoryError) as caught:
        inv.cells()
    assert caught.value.obj == "c1"
    assert str(caught.value) == "host c1 is in two cells: cell1 (group cell1) and cell2 (group cell2)"


@pytest.mark.parametrize(
    ("extra", "cell2", "obj", "words"),
    [
        (
            "[empty]\n",
            cell_vars("cell2", "empty"),
            "cell2",
            "cell cell2 (group cell2) has no compute host: group empty",
        ),
        ("", cell_vars("cell2", "nowhere"), "cell2", "nova_cell_compute_group 'nowhere' is not a group"),
        (
            "[ctl]\nctl9\n",
            cell_vars("cell2", "ctl"),
            "cell2",
            "compute group ctl has hosts outside the cell: ctl9",
        ),
    ],
)
def test_cell_without_computes(tmp_path: Path, extra: str, cell2: str, obj: str, words: str) -> None:
    text = CELLS.replace("[compute-cell2]\nc2\n", "[compute-cell2]\n") + extra
    inv = parse_text(tmp_path, text, cell1=cell_vars("cell1"), cell2=cell2)
    with pytest.raises(InventoryError) as caught:
        inv.cells()
    assert caught.value.obj == obj
    assert words in str(caught.value)


def test_cell_of_non_computes(tmp_path: Path) -> None:
    inv = parse_text(
        tmp_path, "[compute]\nc1\n[control]\nctl1\n[cellX:children]\ncontrol\n", cellX=cell_vars("x")
    )
    with pytest.raises(
        InventoryError, match=r"cell x \(group cellX\) has no compute host: its hosts in group compute"
    ):
        inv.cells()


def test_cell_group_missing_from_inventory(tmp_path: Path) -> None:
    inv = parse_text(tmp_path, CELLS, cell1=cell_vars("cell1"), cell3=cell_vars("cell3"))
    with pytest.raises(
        InventoryError, match="group_vars/cell3 sets nova_cell_name cell3 but the inventory has no"
    ):
        inv.cells()


def test_two_groups_one_cell_name(tmp_path: Path) -> None:
    inv = parse_text(tmp_path, CELLS, cell1=cell_vars("same"), cell2=cell_vars("same"))
    with pytest.raises(InventoryError, match="groups cell1 and cell2 both set nova_cell_name same"):
        inv.cells()


def test_cell_name_on_a_host_line(tmp_path: Path) -> None:
    inv = parse_text(
        tmp_path, CELLS.replace("\nc2\n", "\nc2 nova_cell_name=cell9\n"), cell1=cell_vars("cell1")
    )
    with pytest.raises(InventoryError) as caught:
        inv.cells()
    assert caught.value.obj == "c2"
    assert "host c2 sets nova_cell_name in its inventory line" in str(caught.value)


def test_unreadable_group_vars_yaml(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_text(tmp_path, CELLS, cell1="nova_cell_name: cell1\n  bad: [indent\n")
    error = caught.value
    assert error.obj == str(tmp_path / "group_vars" / "cell1")
    assert error.line == 2
    assert f"cannot read {tmp_path / 'group_vars' / 'cell1'}" in str(error)


def test_group_vars_that_are_not_a_mapping(tmp_path: Path) -> None:
    vault = "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n"
    with pytest.raises(InventoryError, match=r"group_vars/cell1 does not hold a mapping of variables"):
        parse_text(tmp_path, CELLS, cell1=vault)


def test_directory_without_an_inventory(tmp_path: Path) -> None:
    (tmp_path / "one").write_text("[a]\n")
    (tmp_path / "two").write_text("[b]\n")
    with pytest.raises(InventoryError, match="holds 2 files and none named inventory, hosts, multinode"):
        parse_inventory(tmp_path)
    with pytest.raises(InventoryError, match="no inventory at"):
        parse_inventory(tmp_path / "absent")


def test_a_single_file_in_a_directory_is_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "site-a.ini").write_text("[a]\nh1\n")
    assert parse_inventory(tmp_path).groups["a"].hosts == ["h1"]


def test_vars_files_ansible_never_reads_are_not_errors(tmp_path: Path) -> None:
    inv = parse_text(
        tmp_path,
        CELLS,
        cell1=cell_vars("cell1"),
        **{"README.md": "# Notes\n\nnot: [yaml\n", "retired": "{broken: [\n", "old-cell": cell_vars("old")},
    )
    assert set(inv.group_vars) == {"cell1", "old-cell"}
