"""What kolla's release notes require before an upgrade hop, as data: one entry per hop (from → to).

The planner turns each entry into steps (install the target's kolla-ansible, merge the passwords,
run the migrations) and refusals (globals keys the target no longer reads, enabled services it
removed). Adding a hop means adding an entry here; a hop without an entry needs only the target's
kolla-ansible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.kolla import KOLLA_MAJOR_BY_SERIES

# Migrations Ferry knows by name, and what each one does (the step's name says it).
MIGRATIONS = {
    "rabbitmq-3.12-3.13": "Upgrade RabbitMQ through 3.12 to 3.13 on the current release "
    "(kolla-ansible rabbitmq-upgrade 3.12, then 3.13)",
    "rabbitmq-quorum-queues": "Migrate RabbitMQ's queues to quorum queues "
    "(om_enable_rabbitmq_quorum_queues; classic mirrored queues are gone in RabbitMQ 4)",
    "redis-to-valkey": "Move the coordination backend from Redis to Valkey",
}


@dataclass(frozen=True)
class HopPrep:
    """What one hop needs before its upgrade, from kolla-ansible's release notes for ``to_series``.

    ``removed_globals`` maps a key the target no longer reads to advice; a renamed key's advice is
    its new name. ``removed_services`` are ``enable_*`` keys of services the target cannot deploy.
    """

    from_series: str
    to_series: str
    kolla_ansible: int
    new_passwords: tuple[str, ...] = ()
    removed_globals: dict[str, str] = field(default_factory=dict)
    removed_services: tuple[str, ...] = ()
    migrations: tuple[str, ...] = ()


def _hop(from_series: str, to_series: str, **needs: object) -> HopPrep:
    return HopPrep(from_series, to_series, KOLLA_MAJOR_BY_SERIES[to_series], **needs)  # type: ignore[arg-type]


# Epoxy (2025.1, kolla-ansible 20): Valkey replaces Redis as the coordination backend, with its own
# password (valkey_master_password; redis_master_password stays for the move, "remove after
# 2026.1" in passwords.yml); haproxy's metrics get a Prometheus password; RabbitMQ 4 drops
# classic mirrored queues, so om_enable_rabbitmq_high_availability goes and quorum queues are a
# must; swift is no longer deployed.
_TO_2025_1 = {
    "new_passwords": ("valkey_master_password", "prometheus_haproxy_password"),
    "removed_globals": {
        "enable_redis": "enable_valkey",
        "om_enable_rabbitmq_high_availability": "removed: RabbitMQ 4 has no classic mirrored "
        "queues; use quorum queues (om_enable_rabbitmq_quorum_queues)",
    },
    "removed_services": ("enable_swift",),
    "migrations": ("rabbitmq-quorum-queues", "redis-to-valkey"),
}
# Flamingo (2025.2, kolla-ansible 21): venus is no longer deployed.
_TO_2025_2_REMOVED = ("enable_venus",)
# Gazpacho (2026.1, kolla-ansible 22): zun and kuryr are no longer deployed (22.2.0's group_vars
# have neither, nor enable_redis).
_TO_2026_1_REMOVED = ("enable_zun", "enable_kuryr")

HOPS: dict[tuple[str, str], HopPrep] = {
    (hop.from_series, hop.to_series): hop
    for hop in (
        # Caracal (2024.1) skipping Bobcat: RabbitMQ moves 3.11 → 3.13, which it cannot do in one
        # go; upgrade it through 3.12 to 3.13 on Antelope first (kolla's rabbitmq-upgrade).
        _hop("2023.1", "2024.1", migrations=("rabbitmq-3.12-3.13",)),
        _hop("2024.1", "2025.1", **_TO_2025_1),
        _hop("2024.2", "2025.1", **_TO_2025_1),
        _hop("2025.1", "2025.2", removed_services=_TO_2025_2_REMOVED),
        # The SLURP skip over Flamingo: what 2025.2 removed is gone here too.
        _hop("2025.1", "2026.1", removed_services=(*_TO_2025_2_REMOVED, *_TO_2026_1_REMOVED)),
        _hop("2025.2", "2026.1", removed_services=_TO_2026_1_REMOVED),
    )
}


def hop_prep(from_series: str, to_series: str) -> HopPrep:
    """What the hop ``from_series`` → ``to_series`` needs; only the target's kolla-ansible if the
    table has no entry (its major is 0 for a series kolla-ansible does not know)."""
    known = HOPS.get((from_series, to_series))
    if known:
        return known
    return HopPrep(from_series, to_series, KOLLA_MAJOR_BY_SERIES.get(to_series, 0))
