"""The inventory data model: hosts, groups, their variables, and the Nova cells they define.

Values are kept as text, exactly as Ansible reads them from an INI inventory before its own
literal evaluation, so that a rendered inventory means to Ansible what the original meant.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Host and group names are kept to what survives every place a name appears in (INI lines,
# host patterns such as --limit, file names under group_vars/).
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@%+-]*")
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SPECIAL_GROUPS = ("all", "ungrouped")
# Every group's members are held at once: kolla's ~270 groups over 10,000 hosts come to a few
# hundred thousand entries, while a thousand groups each holding every host would take gigabytes.
MAX_MEMBER_ENTRIES = 2_000_000


class InventoryError(Exception):
    """An inventory Ferry will not use: the message names the line (LINE) or object (OBJ) at fault."""

    def __init__(
        self, message: str, line: int | None = None, obj: str | None = None, *, path: Path | None = None
    ):
        self.message = message
        self.line = line
        self.obj = obj
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        where = [str(self.path)] if self.path else []
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class InventoryGroup:
    """One group of an INI inventory: direct member hosts, child groups and [NAME:vars] values."""

    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """A Nova cell: an inventory group whose variables set nova_cell_name."""

    name: str
    group: str
    variables: dict[str, Any]
    hosts: frozenset[str]
    computes: frozenset[str]


@dataclass
class Inventory:
    """A kolla-ansible inventory: hosts with their line variables, groups, and group_vars/ files.

    `hosts` maps a host name to the variables set on its inventory lines, as text. `group_vars`
    and `host_vars` hold the parsed YAML of the files of those directories.
    """

    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, InventoryGroup] = field(default_factory=dict)
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def group_members(self) -> dict[str, set[str]]:
        """Every group's hosts, through child groups, with `all` and `ungrouped` as Ansible fills them."""
        members: dict[str, set[str]] = {}
        entries = 0

        def collect(name: str) -> set[str]:
            nonlocal entries
            if name not in members:
                group = self.groups[name]
                found = set(group.hosts)
                for child in group.children:
                    found |= collect(child)
                members[name] = found
                entries += len(found)
                if entries > MAX_MEMBER_ENTRIES:
                    raise InventoryError(
                        f"groups hold more than {MAX_MEMBER_ENTRIES:,} hosts in all, counting the hosts "
                        f"of child groups (group {name} holds {len(found):,})",
                        obj=name,
                    )
            return members[name]

        for name in self.groups:
            collect(name)
        grouped: set[str] = set()
        for name, hosts in members.items():
            if name not in SPECIAL_GROUPS:
                grouped |= hosts
        members["all"] = set(self.hosts)
        members["ungrouped"] = set(self.hosts) - grouped
        return members

    def members(self, group: str) -> set[str]:
        """The hosts of GROUP, including those of its child groups at any depth."""
        if group not in self.groups and group not in SPECIAL_GROUPS:
            raise InventoryError(f"no group {group!r} in the inventory", obj=group)
        return self.group_members()[group]

    def effective_groups(self, host: str) -> set[str]:
        """All groups HOST is in, directly or through child groups, as Ansible computes them."""
        if host not in self.hosts:
            raise InventoryError(f"no host {host!r} in the inventory", obj=host)
        parents: dict[str, list[str]] = {}
        for group in self.groups.values():
            for child in group.children:
                parents.setdefault(child, []).append(group.name)
        todo = [group.name for group in self.groups.values() if host in group.hosts]
        found: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(parents.get(name, ()))
        found.add("all")
        if found - set(SPECIAL_GROUPS):
            found.discard("ungrouped")
        else:
            found.add("ungrouped")
        return found

    def group_variables(self, group: str) -> dict[str, Any]:
        """The variables GROUP itself sets: [GROUP:vars] as Ansible evaluates them, then group_vars/GROUP."""
        variables: dict[str, Any] = {}
        if group in self.groups:
            variables = {key: ini_value(raw) for key, raw in self.groups[group].vars.items()}
        variables.update(self.group_vars.get(group, {}))
        return variables

    def cells(self) -> list[Cell]:
        """The Nova cells, in inventory order; raise InventoryError if they overlap or lack computes.

        Without nova_cell_compute_group, kolla-ansible places a cell's nova-compute on its hosts
        that are in the `compute` group, so those are the cell's computes.
        """
        host_level = [(host, "its inventory line", values) for host, values in self.hosts.items()]
        host_level += [(host, f"host_vars/{host}", values) for host, values in self.host_vars.items()]
        for host, where, values in host_level:
            if "nova_cell_name" in values:
                raise InventoryError(
                    f"host {host} sets nova_cell_name in {where}: Ferry needs every cell to be a group "
                    "whose variables set nova_cell_name",
                    obj=host,
                )
        members = self.group_members()
        names = list(self.groups) + [name for name in self.group_vars if name not in self.groups]
        cells: list[Cell] = []
        owner: dict[str, Cell] = {}
        for group in names:
            variables = self.group_variables(group)
            if "nova_cell_name" not in variables:
                continue
            name = variables["nova_cell_name"]
            if not isinstance(name, str) or not name:
                raise InventoryError(
                    f"group {group} sets nova_cell_name to {name!r}, not a cell name", obj=group
                )
            if group not in self.groups and group != "all":
                raise InventoryError(
                    f"group_vars/{group} sets nova_cell_name {name} but the inventory has no group {group}",
                    obj=group,
                )
            for other in cells:
                if other.name == name:
                    raise InventoryError(
                        f"groups {other.group} and {group} both set nova_cell_name {name}",
                        obj=group,
                    )
            hosts = members[group]
            compute_group = variables.get("nova_cell_compute_group")
            if compute_group is not None:
                if not isinstance(compute_group, str) or compute_group not in members:
                    raise InventoryError(
                        f"cell {name} (group {group}): nova_cell_compute_group {compute_group!r} is not "
                        "a group of the inventory",
                        obj=group,
                    )
                computes = members[compute_group]
                outside = sorted(computes - hosts)
                if outside:
                    raise InventoryError(
                        f"cell {name} (group {group}): compute group {compute_group} has hosts outside the "
                        f"cell: {', '.join(outside[:5])}",
                        obj=group,
                    )
            else:
                computes = hosts & members["compute"] if "compute" in self.groups else hosts
            if not computes:
                if compute_group:
                    which = f"group {compute_group}"
                else:
                    which = "its hosts in group compute" if "compute" in self.groups else "the group"
                raise InventoryError(
                    f"cell {name} (group {group}) has no compute host: {which} is empty", obj=group
                )
            cell = Cell(name, group, variables, frozenset(hosts), frozenset(computes))
            for host in sorted(hosts):
                if host in owner:
                    raise InventoryError(
                        f"host {host} is in two cells: {owner[host].name} (group {owner[host].group}) and "
                        f"{name} (group {group})",
                        obj=host,
                    )
                owner[host] = cell
            cells.append(cell)
        return cells

    def check(self) -> None:
        """Raise InventoryError unless this inventory can be written as INI and read back the same."""
        for host, variables in self.hosts.items():
            check_name(host, "host")
            for key, value in variables.items():
                check_var(key, value, f"host {host}", strip=False)
        for name, group in self.groups.items():
            if name != group.name:
                raise InventoryError(f"group {group.name} is filed under the name {name}", obj=name)
            check_name(name, "group")
            for host in group.hosts:
                if host not in self.hosts:
                    raise InventoryError(f"group {name} lists host {host}, which is not in hosts", obj=name)
            for child in group.children:
                if child not in self.groups:
                    raise InventoryError(f"group {name} lists undefined child group {child}", obj=name)
                check_child(name, child, None)
            for key, value in group.vars.items():
                check_var(key, value, f"[{name}:vars]", strip=True)
            for items, what in ((group.hosts, "host"), (group.children, "child group")):
                if len(set(items)) != len(items):
                    raise InventoryError(f"group {name} lists a {what} twice", obj=name)
        for kind, table in (("group", self.group_vars), ("host", self.host_vars)):
            for name, data in table.items():
                check_name(name, kind)
                if not isinstance(data, dict):
                    raise InventoryError(f"{kind}_vars/{name} is not a mapping", obj=name)
        check_cycles(self.groups, {})


def ini_value(raw: str) -> Any:
    """The value Ansible gives an INI inventory variable written as RAW (it tries a Python literal)."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return raw
    if value is ... or isinstance(value, complex):
        return raw if value is ... else str(value)
    return value


def check_name(name: str, kind: str, line: int | None = None) -> None:
    """Raise InventoryError unless NAME can be a host or group name (KIND says which)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InventoryError(
            f"{kind} name {name!r} is not supported (letters, digits and _ . @ % + - only)", line, str(name)
        )


def check_var(key: str, value: str, where: str, *, strip: bool, line: int | None = None) -> None:
    """Raise InventoryError unless KEY=VALUE can be written on, and read back from, one INI line.

    STRIP: the line is a [group:vars] one, where Ansible strips the value.
    """
    if not VAR_NAME.fullmatch(key):
        raise InventoryError(f"{where}: {key!r} is not a variable name", line, where)
    if (
        not isinstance(value, str)
        or value.splitlines() not in ([], [value])
        or (strip and value != value.strip())
    ):
        raise InventoryError(
            f"{where}: value of {key} cannot be written on one INI line: {value!r}", line, where
        )


def check_child(parent: str, child: str, line: int | None) -> None:
    """Raise InventoryError if CHILD cannot be a child group of PARENT."""
    if child == "all":
        raise InventoryError(f"[{parent}:children] lists all, which contains every group", line, parent)
    if "ungrouped" in (parent, child):
        raise InventoryError(
            f"[{parent}:children] {child}: ungrouped cannot have or be a child group", line, parent
        )


def check_cycles(
    groups: dict[str, InventoryGroup], edge_lines: dict[tuple[str, str], int], max_depth: int | None = None
) -> None:
    """Raise InventoryError if groups contain each other, or nest more than MAX_DEPTH levels deep.

    EDGE_LINES gives the line of each child entry. The walk keeps its own stack, so a chain of
    thousands of groups is refused rather than exhausting Python's.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    height: dict[str, int] = {}  # levels of groups from a group down to its deepest descendant
    for root in groups:
        if root in state:
            continue
        path, pending = [root], [iter(groups[root].children)]
        state[root] = 1
        while path:
            name = path[-1]
            child = next(pending[-1], None)
            if child is None:
                path.pop()
                pending.pop()
                state[name] = 2
                height[name] = 1 + max((height[c] for c in groups[name].children), default=0)
                if max_depth is not None and height[name] > max_depth:
                    raise InventoryError(
                        f"groups nest more than {max_depth} levels deep below group {name}",
                        obj=name,
                    )
                continue
            if state.get(child) == 1:
                loop = " -> ".join([*path[path.index(child) :], child])
                raise InventoryError(
                    f"groups contain each other: {loop}", edge_lines.get((name, child)), child
                )
            if child not in state:
                state[child] = 1
                path.append(child)
                pending.append(iter(groups[child].children))
