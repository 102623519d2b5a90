"""Ansible itself must read a rendered inventory exactly as it reads the original.

For kolla-ansible's own inventories, the nova cells guide's layout and a fixture of INI corner
cases, `ansible-inventory --list` runs on the original and on parse -> render output; group
membership (expanded through child groups) and host variables must agree, and must agree with
what the model says too. Hypothesis tests check parse(render(inv)) == inv on random inventories,
and that Ansible reads a few of them as the model says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.inventory import Inventory, InventoryGroup, ini_value, parse_inventory, render_inventory
from runner.inventory.model import NAME, VAR_NAME

DATA = Path(__file__).resolve().parent / "data"


def ansible_groups(listing: dict[str, Any]) -> dict[str, set[str]]:
    """Group -> every host in it (through child groups), from `ansible-inventory --list` output."""
    memo: dict[str, set[str]] = {}

    def hosts(group: str) -> set[str]:
        if group not in memo:
            entry = listing.get(group, {})
            memo[group] = set(entry.get("hosts", []))
            for child in entry.get("children", []):
                memo[group] |= hosts(child)
        return memo[group]

    # Like ansible-inventory itself (except for `all`), leave out groups without hosts.
    return {group: hosts(group) for group in listing if group != "_meta" and hosts(group)}


def model_groups(inv: Inventory) -> dict[str, set[str]]:
    """Group -> every host in it, by the model, leaving out groups without hosts."""
    return {group: hosts for group, hosts in inv.group_members().items() if hosts}


@pytest.fixture(params=["multinode", "all-in-one", "cells", "syntax"])
def original(request, kolla_install) -> Path:
    if request.param in ("multinode", "all-in-one"):
        return kolla_install.example_inventory(request.param)
    return DATA / request.param / "inventory"


@pytest.mark.ansible
def test_ansible_reads_the_rendered_inventory_the_same(
    original: Path, tmp_path: Path, ansible_inventory_list
) -> None:
    inv = parse_inventory(original)
    rendered = render_inventory(inv, tmp_path)
    before, after = ansible_inventory_list(original), ansible_inventory_list(rendered)

    groups = ansible_groups(before)
    assert groups == ansible_groups(after)
    assert groups == model_groups(inv)
    for host in inv.hosts:
        assert {g for g, members in groups.items() if host in members} == inv.effective_groups(host)
    assert before["_meta"]["hostvars"] == after["_meta"]["hostvars"]


@pytest.mark.ansible
def test_cell_variables_reach_the_cell_hosts(tmp_path: Path, ansible_inventory_list) -> None:
    inv = parse_inventory(DATA / "cells")
    rendered = render_inventory(inv, tmp_path)
    before = ansible_inventory_list(DATA / "cells" / "inventory")["_meta"]["hostvars"]
    after = ansible_inventory_list(rendered)["_meta"]["hostvars"]
    cells = inv.cells()
    assert {cell.name for cell in cells} == {"cell1", "cell2"}
    for cell in cells:
        for host in cell.hosts:
            for key, value in cell.variables.items():
                assert before[host][key] == after[host][key] == value, (cell.name, host, key)
    outside = set(inv.hosts) - {host for cell in cells for host in cell.hosts}
    assert outside and all("nova_cell_name" not in after.get(host, {}) for host in outside)


# Random inventories for the round trip: names and values from everything the renderer accepts.
_ident = st.from_regex(VAR_NAME, fullmatch=True).filter(lambda s: len(s) <= 12)
_name = st.from_regex(NAME, fullmatch=True).filter(lambda s: len(s) <= 12 and s not in ("all", "ungrouped"))
_one_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12
).filter(lambda s: s.splitlines() in ([], [s]))
_ini_value = _one_line.filter(lambda s: s == s.strip())
_yaml_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _one_line,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ident, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def inventories(draw: st.DrawFn) -> Inventory:
    host_names = draw(st.lists(_name, unique=True, max_size=8))
    some_hosts = st.lists(st.sampled_from(host_names), unique=True) if host_names else st.just([])
    hosts = {name: draw(st.dictionaries(_ident, _one_line, max_size=3)) for name in host_names}
    group_names = draw(st.lists(_name, unique=True, max_size=6))
    groups = {}
    for index, name in enumerate(group_names):
        later = group_names[index + 1 :]  # children only from later groups: no loops
        groups[name] = InventoryGroup(
            name,
            hosts=draw(some_hosts),
            children=draw(st.lists(st.sampled_from(later), unique=True)) if later else [],
            vars=draw(st.dictionaries(_ident, _ini_value, max_size=3)),
        )
    if draw(st.booleans()):
        groups["all"] = InventoryGroup(
            "all", vars=draw(st.dictionaries(_ident, _ini_value, min_size=1, max_size=2))
        )
    vars_of = st.dictionaries(_ident, _yaml_value, max_size=3)
    group_vars = {
        name: draw(vars_of) for name in draw(st.lists(st.sampled_from([*group_names, "all"]), unique=True))
    }
    host_vars = {name: draw(vars_of) for name in draw(some_hosts)}
    return Inventory(hosts=hosts, groups=groups, group_vars=group_vars, host_vars=host_vars)


@settings(max_examples=150, deadline=None)
@given(inv=inventories())
def test_parse_render_round_trip(inv: Inventory, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("render")
    first = render_inventory(inv, out)
    assert parse_inventory(out) == inv
    again = render_inventory(parse_inventory(first), tmp_path_factory.mktemp("again"))
    assert again.read_bytes() == first.read_bytes()


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@settings(max_examples=10, deadline=None)
@given(inv=inventories())
@pytest.mark.ansible
def test_ansible_agrees_with_the_model_on_random_inventories(
    inv: Inventory, tmp_path_factory: pytest.TempPathFactory, ansible_inventory_list
) -> None:
    listing = ansible_inventory_list(render_inventory(inv, tmp_path_factory.mktemp("random")))
    assert ansible_groups(listing) == model_groups(inv)
    hostvars = listing["_meta"]["hostvars"]
    for host, variables in inv.hosts.items():
        for key, raw in variables.items():
            value = ini_value(raw)
            if key in inv.host_vars.get(host, {}) or isinstance(value, (set, frozenset, bytes)):
                continue  # host_vars/ wins; and JSON has no sets or bytes to compare with
            assert hostvars[host][key] == as_json(value), (host, key, raw)
