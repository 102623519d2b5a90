"""Read and write kolla-ansible INI inventories with their group_vars/ and host_vars/ directories.

The parser follows Ansible's own INI inventory plugin (ansible/plugins/inventory/ini.py) where
kolla-ansible inventories rely on it, and refuses, naming the line or object, whatever it
cannot carry over faithfully.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
import shutil
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from runner.inventory.limits import InventoryLimits
from runner.inventory.model import (
    NAME,
    SPECIAL_GROUPS,
    Inventory,
    InventoryError,
    InventoryGroup,
    check_child,
    check_cycles,
    check_name,
    check_var,
)
from runner.yamlguard import YamlLimitError, load_yaml

INVENTORY_FILE_NAMES = ("inventory", "hosts", "multinode", "all-in-one")
VARS_EXTENSIONS = (".yml", ".yaml", ".json")

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_LINE = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_RANGE = re.compile(r"\[[^\]]*\]")
# Printable ASCII without quotes, backslashes or comments: shlex would only split on blanks.
_PLAIN_LINE = re.compile(r"[\t\x20-\x7e]*").fullmatch
_SHELL_SPECIAL = re.compile(r"['\"\\#]").search


def _range_items(pattern: str, rng: str, line: int) -> Sequence[str]:
    # Same grammar as Ansible's expand_hostname_range: [begin:end(:step)], numeric (zero-padded if
    # begin is) or alphabetic. A numeric range stays a `range` until its size has been checked.
    bounds = rng.split(":")
    if len(bounds) not in (2, 3) or not bounds[1]:
        raise InventoryError(
            f"host range in {pattern!r} must be [begin:end] or [begin:end:step]", line, pattern
        )
    begin, end = bounds[0] or "0", bounds[1]
    try:
        step = int(bounds[2]) if len(bounds) == 3 else 1
        if step < 1:
            raise ValueError
        width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
        if width and width != len(end):
            raise ValueError
        if begin in string.ascii_letters and end in string.ascii_letters:
            first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
            if first > last:
                raise ValueError
            return string.ascii_letters[first : last + 1 : step]
        return _Numbers(range(int(begin), int(end) + 1, step), width)
    except ValueError:
        raise InventoryError(f"bad host range in {pattern!r}", line, pattern) from None


class _Numbers(Sequence[str]):
    def __init__(self, numbers: range, width: int):
        self.numbers, self.width = numbers, width

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index):  # type: ignore[override]
        return str(self.numbers[index]).zfill(self.width)


def _expand_range(pattern: str, line: int, most: int) -> list[str]:
    """The host names PATTERN stands for, left to right; refused if they are more than MOST."""
    if "[" not in pattern:
        return [pattern]
    literals: list[str] = []
    ranges: list[Sequence[str]] = []
    rest = pattern
    while "[" in rest:
        try:
            head, rng, rest = rest.replace("[", "|", 1).replace("]", "|", 1).split("|")
        except ValueError:
            raise InventoryError(f"bad host range in {pattern!r}", line, pattern) from None
        literals.append(head)
        ranges.append(_range_items(pattern, rng, line))
    count = math.prod(len(items) for items in ranges)
    if count > most:
        raise InventoryError(
            f"host range {pattern} stands for {count:,} hosts; at most {most:,} are accepted in one range",
            line,
            pattern,
        )
    return [
        "".join(part for pair in zip(literals, items, strict=True) for part in pair) + rest
        for items in itertools.product(*ranges)
    ]


def _check_length(name: str, kind: str, most: int, line: int) -> None:
    if len(name) > most:
        raise InventoryError(
            f"{kind} name {name[:40]}… is {len(name)} characters; at most {most} are accepted", line, name
        )


def _parse_host_line(text: str, line: int, limits: InventoryLimits) -> tuple[list[str], dict[str, str]]:
    try:
        if _PLAIN_LINE(text) and not _SHELL_SPECIAL(text):
            tokens = text.split()  # same tokens as shlex, without its character-by-character lexer
        else:
            tokens = shlex.split(text, comments=True)
    except ValueError as exc:
        raise InventoryError(f"cannot split host line ({exc}): {text}", line, text) from None
    if not tokens:
        raise InventoryError(f"expected a host, got: {text}", line, text)
    pattern, variables = tokens[0], {}
    head, sep, port = pattern.rpartition(":")
    if sep and port.isdigit() and ":" not in _RANGE.sub("", head):
        pattern, variables = head, {"ansible_port": port}
    names = _expand_range(pattern, line, limits.max_range_hosts)
    for name in names:
        check_name(name, "host", line)
        if len(name) > limits.max_host_name:
            _check_length(name, "host", limits.max_host_name, line)
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise InventoryError(f"host {names[0]}: expected key=value, got {token!r}", line, names[0])
        check_var(key, value, f"host {names[0]}", strip=False, line=line)
        variables[key] = value
    return names, variables


def _parse_ini(
    text: str, limits: InventoryLimits
) -> tuple[dict[str, dict[str, str]], dict[str, InventoryGroup]]:
    hosts: dict[str, dict[str, str]] = {}
    groups: dict[str, InventoryGroup] = {}
    defined: set[str] = set(SPECIAL_GROUPS)
    first_vars_line: dict[str, int] = {}
    child_refs: dict[str, tuple[int, str]] = {}
    edge_lines: dict[tuple[str, str], int] = {}
    listed: dict[str, set[str]] = {}
    in_group: set[str] = set()
    group: InventoryGroup | None = None
    state = "hosts"
    memberships = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = _SECTION.match(line)
            if not match:
                raise InventoryError(f"malformed section header: {line}", number, line)
            name, state = match.group(1), match.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise InventoryError(f"section [{name}:{state}] has unknown type {state!r}", number, name)
            check_name(name, "group", number)
            _check_length(name, "group", limits.max_group_name, number)
            group = groups.setdefault(name, InventoryGroup(name))
            if len(groups) > limits.max_groups:
                raise InventoryError(f"defines more than {limits.max_groups:,} groups", number, name)
            in_group = listed.setdefault(name, set())
            if state == "vars":
                first_vars_line.setdefault(name, number)
            else:
                defined.add(name)
            continue
        if state == "hosts":
            names, variables = _parse_host_line(line, number, limits)
            for name in names:
                hosts.setdefault(name, {}).update(variables)
                if group is not None and name not in in_group:
                    in_group.add(name)
                    group.hosts.append(name)
                    memberships += 1
            if len(hosts) > limits.max_hosts:
                raise InventoryError(f"holds more than {limits.max_hosts:,} hosts", number, names[-1])
            if memberships > limits.max_memberships:
                raise InventoryError(
                    f"lists hosts under groups more than {limits.max_memberships:,} times", number, names[-1]
                )
        elif state == "children":
            assert group is not None
            match = _GROUP_LINE.match(line)
            if not match:
                raise InventoryError(
                    f"[{group.name}:children]: expected a group name, got {line!r}", number, line
                )
            child = match.group(1)
            check_name(child, "group", number)
            _check_length(child, "group", limits.max_group_name, number)
            check_child(group.name, child, number)
            if child not in group.children:
                group.children.append(child)
                edge_lines[(group.name, child)] = number
            child_refs.setdefault(child, (number, group.name))
        else:
            assert group is not None
            key, sep, value = line.partition("=")
            if not sep:
                raise InventoryError(
                    f"[{group.name}:vars]: expected key=value, got {line!r}", number, group.name
                )
            check_var(key.strip(), value.strip(), f"[{group.name}:vars]", strip=True, line=number)
            group.vars[key.strip()] = value.strip()
    # Like Ansible, a child group may be defined after the section that names it, but it must
    # be defined somewhere: Ansible refuses the file otherwise, and guessing that an unknown
    # name is an empty group would silently drop whatever hosts the author meant it to hold.
    for child, (number, parent) in child_refs.items():
        if child not in defined:
            raise InventoryError(
                f"[{parent}:children] lists group {child}, which is never defined", number, child
            )
    for name, number in first_vars_line.items():
        if name not in defined:
            raise InventoryError(f"[{name}:vars] is for group {name}, which is never defined", number, name)
    check_cycles(groups, edge_lines, limits.max_group_depth)
    return hosts, groups


def _load_yaml(path: Path, limits: InventoryLimits) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > limits.yaml.max_bytes:
            raise YamlLimitError(f"is {size:,} bytes; at most {limits.yaml.max_bytes:,} are accepted")
        data = load_yaml(path.read_text(encoding="utf-8"), limits.yaml)
    except YamlLimitError as exc:
        raise InventoryError(f"this file {exc.message}", exc.line, str(path), path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InventoryError(f"cannot read {path}: {problem}", line, str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read {path}: {exc}", None, str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(
            f"{path} does not hold a mapping of variables (vault-encrypted?)", None, str(path)
        )
    return data


def _vars_files(directory: Path, name: str) -> list[Path]:
    # Ansible's DataLoader.find_vars_files: NAME, NAME.yml, NAME.yaml or NAME.json, first found
    # wins; a directory contributes its files (recursively, sorted, no hidden or backup files).
    def walk(folder: Path) -> list[Path]:
        files: list[Path] = []
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name.startswith(".") or entry.name.endswith("~"):
                continue
            if entry.is_dir() and not entry.suffix:
                files += walk(entry)
            elif entry.is_file() and (not entry.suffix or entry.suffix in VARS_EXTENSIONS):
                files.append(entry)
        return files

    for suffix in ("", *VARS_EXTENSIONS):
        candidate = directory / f"{name}{suffix}"
        if candidate.is_dir():
            return walk(candidate)
        if candidate.exists():
            return [candidate]
    return []


def _load_vars_dir(
    directory: Path, kind: str, known: set[str], limits: InventoryLimits
) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        return {}
    names = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        name = entry.name[: -len(entry.suffix)] if entry.suffix in VARS_EXTENSIONS else entry.name
        if name not in names:
            names.append(name)
    loaded: dict[str, dict[str, Any]] = {}
    for name in names:
        files = _vars_files(directory, name)
        if name in known:
            loaded[name] = _merge(files, limits)
            continue
        # Ansible reads the vars of inventory groups and hosts only, so other files (a README,
        # notes.txt, an unreadable leftover) change nothing. Readable ones are kept, so that
        # Inventory.cells() can name a cell whose group the inventory lacks.
        if Path(name).suffix or not NAME.fullmatch(name):
            continue
        try:
            loaded[name] = _merge(files, limits)
        except InventoryError:
            continue
    return loaded


def _merge(files: list[Path], limits: InventoryLimits) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for file in files:
        merged.update(_load_yaml(file, limits))
    return merged


def _find_inventory_file(directory: Path) -> Path:
    for name in INVENTORY_FILE_NAMES:
        if (directory / name).is_file():
            return directory / name
    files = [
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith("~")
    ]
    if len(files) == 1:
        return files[0]
    raise InventoryError(
        f"{directory} holds {len(files)} files and none named {', '.join(INVENTORY_FILE_NAMES)}",
        obj=str(directory),
    )


def parse_inventory(path: Path, limits: InventoryLimits | None = None) -> Inventory:
    """Read a kolla-ansible INI inventory: a file, or a directory holding one, with group_vars/ beside it.

    LIMITS bound its size, checked as it is read and before anything is expanded.
    """
    limits = limits or InventoryLimits()
    path = Path(path)
    if path.is_dir():
        file = _find_inventory_file(path)
    elif path.is_file():
        file = path
    else:
        raise InventoryError(f"no inventory at {path}", obj=str(path))
    try:
        size = file.stat().st_size
        if size > limits.max_file_bytes:
            raise InventoryError(
                f"{file.name} is {size:,} bytes; at most {limits.max_file_bytes:,} are accepted",
                obj=str(file),
            )
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read {file}: {exc}", obj=str(file)) from None
    nul = text.find("\0")
    if nul >= 0:
        raise InventoryError("holds a NUL byte", text.count("\n", 0, nul) + 1, str(file), path=file)
    try:
        hosts, groups = _parse_ini(text, limits)
    except InventoryError as exc:
        exc.path = file
        raise
    return Inventory(
        hosts=hosts,
        groups=groups,
        group_vars=_load_vars_dir(file.parent / "group_vars", "group", {*groups, *SPECIAL_GROUPS}, limits),
        host_vars=_load_vars_dir(file.parent / "host_vars", "host", set(hosts), limits),
    )


def _host_line(host: str, variables: dict[str, str]) -> str:
    # Ansible splits host lines like a POSIX shell, so quoting the value gives it back verbatim.
    tokens = [f"{key}={shlex.quote(value) if value else ''}" for key, value in variables.items()]
    return " ".join([host, *tokens])


def _dump_vars(directory: Path, table: dict[str, dict[str, Any]]) -> None:
    # Files left by an earlier render would still apply, so the directory is written afresh.
    if directory.exists():
        shutil.rmtree(directory)
    if not table:
        return
    directory.mkdir(parents=True)
    for name, data in table.items():
        text = yaml.dump(
            data, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True, explicit_start=True
        )
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")


def render_inventory(inv: Inventory, out_dir: Path) -> Path:
    """Write INV as `OUT_DIR/inventory` (INI) and OUT_DIR/group_vars/ and host_vars/; return the INI path.

    The same inventory always gives byte-identical files.
    """
    inv.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by Ferry from its model of the cloud; changes here are overwritten."]
    lines += [_host_line(host, variables) for host, variables in inv.hosts.items()]
    for group in inv.groups.values():
        # A [name] header is what defines a group, unless [name:children] does or it is `all`
        # or `ungrouped`, which always exist.
        if group.hosts or not (group.children or (group.vars and group.name in SPECIAL_GROUPS)):
            lines += ["", f"[{group.name}]", *group.hosts]
        if group.children:
            lines += ["", f"[{group.name}:children]", *group.children]
        if group.vars:
            lines += ["", f"[{group.name}:vars]", *(f"{key}={value}" for key, value in group.vars.items())]
    target = out_dir / "inventory"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _dump_vars(out_dir / "group_vars", inv.group_vars)
    _dump_vars(out_dir / "host_vars", inv.host_vars)
    return target
