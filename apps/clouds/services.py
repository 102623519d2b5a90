"""Workflows on clouds: define them, store their secrets, import and render inventories.

Each function takes the acting user, validates everything before it changes
anything, runs in one transaction and writes the audit entry itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit.services import record
from apps.catalog.models import Release
from apps.clouds import secrets
from apps.clouds.limits import YAML_LIMITS, check_cells, check_inventory_fits, decode_text, inventory_limits
from apps.clouds.models import Cell, Cloud, Host, InventoryGroup
from portal.forms import lf_line_endings
from runner import secret_vars
from runner.inventory import (
    Inventory,
    InventoryError,
    parse_inventory,
    render_inventory,
)
from runner.inventory import (
    InventoryGroup as InvGroup,
)
from runner.yamlguard import YamlLimitError, load_yaml

CLOUD_FIELDS = ("slug", "region", "description", "distro", "distro_version", "arch", "container_engine")


def parse_yaml_mapping(text: str, field: str) -> dict[str, Any]:
    """Parse YAML that must be a mapping (or empty); refuse anything else naming ``field``.

    Size, nesting depth and alias expansion are checked before the text reaches the YAML loader.
    """
    try:
        data = load_yaml(text, YAML_LIMITS) if text.strip() else {}
    except YamlLimitError as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise ValidationError({field: f"{exc.message}{where}"}) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError({field: f"is not valid YAML{where}: {problem}"}) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError({field: f"must be a YAML mapping of variables, not a {type(data).__name__}"})
    return data


def resolve_release(series: str | None) -> Release | None:
    """The release of ``series``; a clear error naming the series when it is unknown."""
    if not series:
        return None
    try:
        return Release.objects.get(series=series)
    except Release.DoesNotExist:
        known = ", ".join(Release.objects.values_list("series", flat=True)[:100])
        raise ValidationError({"release": f"unknown release series {series!r}; known: {known}"}) from None


@transaction.atomic
def create_cloud(
    actor, *, globals_yml: str = "", passwords_yml: str = "", release: str | None = None, **fields: Any
) -> Cloud:
    """Define a new cloud (state ``planned``); nothing is deployed."""
    cloud = Cloud(**{k: v for k, v in fields.items() if k in CLOUD_FIELDS})
    cloud.release = resolve_release(release)
    parse_yaml_mapping(globals_yml, "globals_yml")
    cloud.globals_yml = globals_yml
    if passwords_yml:
        parse_yaml_mapping(passwords_yml, "passwords_yml")
        cloud.passwords_encrypted = secrets.encrypt(passwords_yml)
    cloud.full_clean()
    cloud.save()
    record(actor, "cloud.create", cloud, detail={"fields": sorted(fields), "release": release or ""})
    return cloud


@transaction.atomic
def update_cloud(
    actor,
    cloud: Cloud,
    *,
    globals_yml: str | None = None,
    passwords_yml: str | None = None,
    release: str | None = None,
    **fields: Any,
) -> Cloud:
    """Change a cloud's definition; passwords are replaced only when given.

    When nothing differs from what is stored, nothing is saved and nothing is audited. The audit
    entry holds each changed field before and after, secrets masked (passwords: only their names).
    """
    before = _definition(cloud)
    changed = sorted(k for k, v in fields.items() if k in CLOUD_FIELDS and getattr(cloud, k) != v)
    for key in changed:
        setattr(cloud, key, fields[key])
    if release is not None:
        new_release = resolve_release(release)
        if new_release != cloud.release:
            cloud.release = new_release
            changed.append("release")
    # A browser sends a textarea back with CRLF line breaks: that alone changes nothing.
    if globals_yml is not None and lf_line_endings(globals_yml) != lf_line_endings(cloud.globals_yml):
        parse_yaml_mapping(globals_yml, "globals_yml")
        cloud.globals_yml = lf_line_endings(globals_yml)
        changed.append("globals_yml")
    if passwords_yml is not None:
        parse_yaml_mapping(passwords_yml, "passwords_yml")
        cloud.passwords_encrypted = secrets.encrypt(passwords_yml) if passwords_yml else ""
        changed.append("passwords_yml")
    if not changed:
        return cloud
    cloud.full_clean()
    cloud.save()
    after = _definition(cloud)
    detail = {
        "changed": changed,
        "before": {k: before[k] for k in changed if k in before},
        "after": {k: after[k] for k in changed if k in after},
    }
    record(actor, "cloud.update", cloud, detail=detail)
    return cloud


def _definition(cloud: Cloud) -> dict[str, Any]:
    """What an audit entry shows of a cloud's definition: secrets masked, passwords by name only."""
    try:
        password_names = sorted(cloud_passwords(cloud))
    except ValidationError:
        password_names = ["(unreadable)"]
    return {
        **{k: getattr(cloud, k) for k in CLOUD_FIELDS},
        "release": cloud.release.series if cloud.release_id else None,
        "globals_yml": secret_vars.hide_secrets_in_yaml(cloud.globals_yml),
        "passwords_yml": password_names,
    }


def cloud_passwords(cloud: Cloud) -> dict[str, Any]:
    """The decrypted passwords of ``cloud`` as a mapping, for the runner only."""
    return (
        parse_yaml_mapping(secrets.decrypt(cloud.passwords_encrypted), "passwords_yml")
        if (cloud.passwords_encrypted)
        else {}
    )


def secret_values(cloud: Cloud) -> list[str]:
    """Every password value of ``cloud``, every value of a secret-named variable of its inventory
    and globals (``runner.secret_vars.is_secret_name``), and the secrets of its configuration files
    (``apps.clouds.files.file_secret_values``), to redact from job output."""
    values = {str(v) for v in cloud_passwords(cloud).values() if v not in (None, "") and len(str(v)) >= 4}
    # Globals that do not parse hold no variables to hide; a job refuses them before running anything.
    with contextlib.suppress(ValidationError):
        values.update(secret_vars.secret_values(parse_yaml_mapping(cloud.globals_yml, "globals_yml")))
    for row in cloud.hosts.values_list("variables", "host_vars"):
        values.update(secret_vars.secret_values(list(row)))
    for row in cloud.groups.values_list("inline_vars", "group_vars"):
        values.update(secret_vars.secret_values(list(row)))
    for variables in cloud.cells.values_list("variables", flat=True):
        values.update(secret_vars.secret_values(variables))
    from apps.clouds.files import file_secret_values  # files builds on this module

    values.update(file_secret_values(cloud))
    return sorted(values)


@dataclass
class ImportSummary:
    """What an inventory import put in place."""

    hosts: int
    groups: int
    cells: list[str]


@transaction.atomic
def import_inventory(
    actor,
    cloud: Cloud,
    inventory: Inventory,
    *,
    globals_yml: str | bytes | None = None,
    release: str | None = None,
) -> ImportSummary:
    """Replace ``cloud``'s hosts, groups and cells with ``inventory``, all or nothing.

    ``globals_yml`` may be the bytes of an uploaded file; it must be UTF-8.
    """
    new_release = resolve_release(release) if release else None
    if globals_yml is not None:
        globals_yml = decode_text(globals_yml, "globals")
        parse_yaml_mapping(globals_yml, "globals")
    check_inventory_fits(inventory)
    try:
        cells = inventory.cells()
    except InventoryError as exc:
        raise ValidationError({"inventory": str(exc)}) from None
    check_cells(cells)
    before = _inventory_summary(cloud)
    globals_before = cloud.globals_yml

    Host.objects.filter(cloud=cloud).delete()
    InventoryGroup.objects.filter(cloud=cloud).delete()
    Cell.objects.filter(cloud=cloud).delete()

    names = list(inventory.groups) + [g for g in inventory.group_vars if g not in inventory.groups]
    groups = InventoryGroup.objects.bulk_create(
        InventoryGroup(
            cloud=cloud,
            name=name,
            position=position,
            children=list(inventory.groups[name].children) if name in inventory.groups else [],
            inline_vars=dict(inventory.groups[name].vars) if name in inventory.groups else {},
            group_vars=inventory.group_vars.get(name, {}),
            declared=name in inventory.groups,
        )
        for position, name in enumerate(names)
    )
    group_ids = {g.name: g.pk for g in groups}
    cell_rows = Cell.objects.bulk_create(
        Cell(cloud=cloud, name=c.name, group=c.group, variables=c.variables) for c in cells
    )
    cell_of_host = {host: row.pk for cell, row in zip(cells, cell_rows, strict=True) for host in cell.hosts}
    hosts = Host.objects.bulk_create(
        Host(
            cloud=cloud,
            name=name,
            address=str(hostvars.get("ansible_host", "")),
            variables={k: v for k, v in hostvars.items() if k != "ansible_host"},
            host_vars=inventory.host_vars.get(name, {}),
            position=position,
            cell_id=cell_of_host.get(name),
        )
        for position, (name, hostvars) in enumerate(inventory.hosts.items())
    )
    host_ids = {h.name: h.pk for h in hosts}
    Through = Host.groups.through
    Through.objects.bulk_create(
        (
            Through(host_id=host_ids[host], inventorygroup_id=group_ids[group.name])
            for group in inventory.groups.values()
            for host in group.hosts
        ),
        batch_size=5000,
    )
    changed = ["inventory"]
    if globals_yml is not None:
        cloud.globals_yml = globals_yml
        changed.append("globals_yml")
    if new_release is not None:
        cloud.release = new_release
        changed.append("release")
    cloud.save()
    summary = ImportSummary(hosts=len(hosts), groups=len(groups), cells=[c.name for c in cells])
    after = _inventory_summary(cloud)
    detail = {
        "hosts": summary.hosts,
        "groups": summary.groups,
        "cells": summary.cells,
        "changed": changed,
        "before": before,
        "after": after,
        **_differences(before, after),
    }
    if "globals_yml" in changed:
        detail["before"]["globals_yml"] = secret_vars.hide_secrets_in_yaml(globals_before)
        detail["after"]["globals_yml"] = secret_vars.hide_secrets_in_yaml(cloud.globals_yml)
    record(actor, "cloud.import_inventory", cloud, detail=detail)
    return summary


def _inventory_summary(cloud: Cloud) -> dict[str, Any]:
    """The inventory as an audit entry keeps it: names, cells, and a digest of each host's address
    and variables and of each group's children, members and variables (values never appear)."""
    members: dict[str, list[str]] = {}
    for group, host in Host.groups.through.objects.filter(host__cloud=cloud).values_list(
        "inventorygroup__name", "host__name"
    ):
        members.setdefault(group, []).append(host)
    hosts = cloud.hosts.values_list("name", "address", "variables", "host_vars")
    groups = cloud.groups.values_list("name", "children", "inline_vars", "group_vars")
    parts = {
        **{f"host {name}": rest for name, *rest in hosts},
        **{f"group {name}": [*rest, sorted(members.get(name, []))] for name, *rest in groups},
    }
    return {
        "hosts": sorted(name for name, *_ in hosts),
        "groups": sorted(name for name, *_ in groups),
        "cells": dict(cloud.cells.values_list("name", "group")),
        "digests": {
            name: hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
            for name, value in parts.items()
        },
    }


def _differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[str]]:
    """Which hosts and groups came and went, and which ones' address, members or variables changed."""
    return {
        "hosts_added": sorted(set(after["hosts"]) - set(before["hosts"])),
        "hosts_removed": sorted(set(before["hosts"]) - set(after["hosts"])),
        "groups_added": sorted(set(after["groups"]) - set(before["groups"])),
        "groups_removed": sorted(set(before["groups"]) - set(after["groups"])),
        "modified": sorted(
            name
            for name in set(before["digests"]) & set(after["digests"])
            if before["digests"][name] != after["digests"][name]
        ),
    }


def import_inventory_path(
    actor, cloud: Cloud, path: Path, *, globals_yml: str | bytes | None = None, release: str | None = None
) -> ImportSummary:
    """Parse the kolla-ansible inventory at ``path`` (file or directory) within the limits, and import it."""
    path = Path(path)
    try:
        inventory = parse_inventory(path, inventory_limits())
    except InventoryError as exc:
        # Name the file as the uploader knows it, not by where it was unpacked.
        root = path if path.is_dir() else path.parent
        if exc.path is not None and exc.path.is_relative_to(root):
            exc.path = exc.path.relative_to(root)
        raise ValidationError({"inventory": str(exc)}) from None
    return import_inventory(actor, cloud, inventory, globals_yml=globals_yml, release=release)


def cloud_inventory(cloud: Cloud) -> Inventory:
    """Rebuild the runner's inventory from the models, in the imported order."""
    groups = list(cloud.groups.order_by("position"))
    members: dict[int, list[str]] = {g.pk: [] for g in groups}
    Through = Host.groups.through
    host_names = dict(cloud.hosts.values_list("pk", "name"))
    for group_id, host_id in (
        Through.objects.filter(host__cloud=cloud)
        .order_by("host__position")
        .values_list("inventorygroup_id", "host_id")
    ):
        members[group_id].append(host_names[host_id])
    hosts, host_vars = {}, {}
    for name, address, variables, extra in cloud.hosts.order_by("position").values_list(
        "name", "address", "variables", "host_vars"
    ):
        hosts[name] = ({"ansible_host": address} if address else {}) | variables
        if extra:
            host_vars[name] = extra
    return Inventory(
        hosts=hosts,
        groups={
            g.name: InvGroup(
                name=g.name, hosts=members[g.pk], children=list(g.children), vars=dict(g.inline_vars)
            )
            for g in groups
            if g.declared
        },
        group_vars={g.name: g.group_vars for g in groups if g.group_vars},
        host_vars=host_vars,
    )


def render_cloud_inventory(cloud: Cloud, out_dir: Path) -> Path:
    """Write the inventory and group_vars the runner uses for ``cloud`` into ``out_dir``."""
    return render_inventory(cloud_inventory(cloud), Path(out_dir))


def config_revision(cloud: Cloud) -> str:
    """A digest of what the cloud's plans depend on: its release, globals.yml, whole inventory and
    configuration files.

    Two plans of the same job on the same revision are the same plan; any change to the
    inventory, a variable or globals.yml gives another revision.
    """
    inventory = cloud_inventory(cloud)
    state = {
        "release": cloud.release.series if cloud.release_id else None,
        "globals": cloud.globals_yml,
        "hosts": inventory.hosts,
        # Host order is kept: the first host of a group is kolla's primary (mariadb, for one).
        "groups": {n: [g.hosts, g.children, g.vars] for n, g in inventory.groups.items()},
        "group_vars": inventory.group_vars,
        "host_vars": inventory.host_vars,
    }
    from apps.clouds.files import files_state  # files builds on this module

    files = files_state(cloud)
    if files:  # only then: a cloud without files keeps the plan hashes it had before files existed
        state["files"] = files
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()
