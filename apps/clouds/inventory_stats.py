"""Counts over a cloud's inventory, computed in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict

from apps.clouds.models import Cloud, Host, InventoryGroup


def hosts_per_group(cloud: Cloud) -> dict[str, int]:
    """Number of distinct hosts in each group of ``cloud``, following ``children`` like Ansible."""
    groups = dict(InventoryGroup.objects.filter(cloud=cloud).values_list("name", "children"))
    direct: dict[str, set[int]] = defaultdict(set)
    for name, host_id in Host.groups.through.objects.filter(host__cloud=cloud).values_list(
        "inventorygroup__name", "host_id"
    ):
        direct[name].add(host_id)

    resolved: dict[str, set[int]] = {}

    def members(name: str, seen: frozenset[str] = frozenset()) -> set[int]:
        if name in resolved:
            return resolved[name]
        if name in seen:  # a cycle: Ansible refuses those at import, be safe anyway
            return set()
        result = set(direct.get(name, ()))
        for child in groups.get(name, ()):
            result |= members(child, seen | {name})
        resolved[name] = result
        return result

    return {name: len(members(name)) for name in groups}
