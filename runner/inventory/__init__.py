"""kolla-ansible INI inventories: a plain data model, a parser and a renderer.

`parse_inventory` reads an inventory (and its group_vars/) into an `Inventory`, and
`render_inventory` writes one back in a form Ansible reads the same way. Nothing here knows
about Django or HTTP.
"""

from runner.inventory.ini import INVENTORY_FILE_NAMES, parse_inventory, render_inventory
from runner.inventory.model import Cell, Inventory, InventoryError, InventoryGroup, ini_value

__all__ = [
    "INVENTORY_FILE_NAMES",
    "Cell",
    "Inventory",
    "InventoryError",
    "InventoryGroup",
    "ini_value",
    "parse_inventory",
    "render_inventory",
]
