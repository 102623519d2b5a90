"""How large an inventory Ferry reads: checked while parsing, before anything is expanded or kept."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.yamlguard import YamlLimits


@dataclass(frozen=True)
class InventoryLimits:
    """Bounds on one inventory. Whoever stores the result passes its own column lengths for names."""

    max_file_bytes: int = 8 * 2**20
    max_hosts: int = 10_000
    # `compute[0001:2000]` is a large range; a range beyond this is a typo or an attack.
    max_range_hosts: int = 5_000
    # kolla-ansible's multinode inventory defines about 270 groups, and each cell adds a few.
    max_groups: int = 2_000
    # Direct host entries under group sections; kolla puts a host in a few top-level groups.
    max_memberships: int = 100_000
    # kolla's service groups sit two or three [children] levels below the top-level groups.
    max_group_depth: int = 32
    max_host_name: int = 255
    max_group_name: int = 128
    yaml: YamlLimits = field(default_factory=YamlLimits)
