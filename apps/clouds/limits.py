"""The limits inventories, globals.yml and passwords.yml meet before Ferry parses or stores them.

Every way in (the upload page, the API, ``manage.py import_kolla_inventory``) goes through the
services, which go through here. Name limits come from the columns that will hold the names, so
a name that fits here fits in the database.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.clouds.models import Cell, Host, InventoryGroup
from runner.inventory import Cell as InvCell
from runner.inventory import Inventory
from runner.inventory.limits import InventoryLimits
from runner.inventory.model import SPECIAL_GROUPS
from runner.yamlguard import YamlLimits

YAML_LIMITS = YamlLimits()
# kolla-ansible names a cell's database, database user and RabbitMQ vhost nova_<cell name>, and
# MariaDB refuses database names longer than 64 characters.
MAX_CELL_NAME = min(Cell._meta.get_field("name").max_length, 64 - len("nova_"))
MAX_ADDRESS = Host._meta.get_field("address").max_length
MAX_GROUP_NAME = InventoryGroup._meta.get_field("name").max_length


def inventory_limits() -> InventoryLimits:
    """The bounds an inventory is parsed under: settings for sizes, model columns for names."""
    return InventoryLimits(
        max_hosts=settings.FERRY_MAX_INVENTORY_HOSTS,
        max_host_name=Host._meta.get_field("name").max_length,
        max_group_name=MAX_GROUP_NAME,
        yaml=YAML_LIMITS,
    )


def decode_text(data: bytes | str, field: str) -> str:
    """DATA as text; refused, naming FIELD, if it is too large for YAML or is not UTF-8."""
    if isinstance(data, str):
        return data
    if len(data) > YAML_LIMITS.max_bytes:
        raise ValidationError(
            {field: f"is {len(data):,} bytes; at most {YAML_LIMITS.max_bytes:,} are accepted"}
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({field: f"is not UTF-8 text (byte {exc.start + 1} is not)"}) from None


def check_inventory_fits(inventory: Inventory) -> None:
    """Refuse an inventory that is not a kolla-ansible one, or that the models cannot hold."""
    if not any(name not in SPECIAL_GROUPS for name in inventory.groups):
        raise ValidationError(
            {
                "inventory": "defines no groups, so it is not a kolla-ansible inventory "
                "(kolla-ansible puts hosts in groups such as control, network and compute)"
            }
        )
    for host, variables in inventory.hosts.items():
        address = str(variables.get("ansible_host", ""))
        if len(address) > MAX_ADDRESS:
            raise ValidationError(
                {
                    "inventory": f"host {host}: ansible_host is {len(address)} characters; "
                    f"at most {MAX_ADDRESS} are accepted"
                }
            )
    for name in inventory.group_vars:
        if len(name) > MAX_GROUP_NAME:
            raise ValidationError(
                {"inventory": f"group_vars/{name[:40]}…: a group name is at most {MAX_GROUP_NAME} characters"}
            )
    for kind, table in (("group_vars", inventory.group_vars), ("host_vars", inventory.host_vars)):
        for name, variables in table.items():
            problem = _unstorable(variables)
            if problem:
                raise ValidationError(
                    {"inventory": f"{kind}/{name}: {problem}, which cannot be stored as JSON; quote it"}
                )


def _unstorable(data: Any) -> str | None:
    """What in DATA (loaded YAML, already bounded in size) a JSON column cannot hold, if anything."""
    todo = [("", data)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, dict):
            todo.extend((f"{where}.{key}".lstrip("."), item) for key, item in value.items())
        elif isinstance(value, list):
            todo.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return f"{where} is {value}"
        elif not isinstance(value, str | int | float | bool | type(None)):
            return f"{where} is a {type(value).__name__} ({str(value)[:40]})"
    return None


def check_cells(cells: list[InvCell]) -> None:
    """Refuse a cell whose ``nova_cell_name`` kolla-ansible or nova could not use."""
    validators = Cell._meta.get_field("name").validators
    for cell in cells:
        if len(cell.name) > MAX_CELL_NAME:
            raise ValidationError(
                {
                    "inventory": f"group {cell.group}: nova_cell_name {cell.name[:40]}… is {len(cell.name)} "
                    f"characters; at most {MAX_CELL_NAME} are accepted, since kolla-ansible names the "
                    "cell's database nova_<cell> and MariaDB allows 64"
                }
            )
        for validator in validators:
            try:
                validator(cell.name)
            except ValidationError as exc:
                reason = " ".join(exc.messages)
                raise ValidationError(
                    {"inventory": f"group {cell.group}: nova_cell_name {cell.name!r}: {reason}"}
                ) from None
