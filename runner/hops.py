"""What kolla's release notes require before an upgrade hop, as data: one entry per hop (from → to).

The planner turns each entry into steps (install the target's kolla-ansible, merge the passwords,
run the migrations) and refusals (globals keys the target no longer reads, enabled services it
removed). Adding a hop means adding an entry here; a hop without an entry needs only the target's
kolla-ansible.

Checked against kolla-ansible's release notes (releasenotes/notes/*.yaml) of 17.0.0 to 22.0.0, the
stable branches' notes up to 20.5.0, 21.2.0 and 22.1.0, 22.2.0's notes, and the passwords.yml and
group_vars of each release. A note named in a comment below is one of those files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from runner.kolla import KOLLA_MAJOR_BY_SERIES

# Migrations Ferry knows by name, and what each one does (the step's name says it).
MIGRATIONS = {
    "rabbitmq-3.12-3.13": "Upgrade RabbitMQ to 3.12 on the current release, for the hop's 3.13 "
    "(kolla-ansible rabbitmq-upgrade 3.12)",
    "rabbitmq-quorum-queues": "Migrate RabbitMQ's queues to quorum queues on the current release "
    "(om_enable_rabbitmq_quorum_queues; 2023.2 dropped non-HA queues)",
    # The step checks all four queue options (om_enable_queue_manager, …_quorum_queues,
    # …_transient_quorum_queue, …_stream_fanout); its name has room for the first.
    "rabbitmq-durable-queues": "Migrate every RabbitMQ queue to a durable type for RabbitMQ 4 "
    "(om_enable_queue_manager and the quorum, transient and stream options)",
}
# Migrations that run on the release the cloud leaves, with its kolla-ansible: kolla's guide has
# them done before the hop, the options they set are read only by that release, and the target's
# prechecks already refuse queues that are not quorum queues.
ON_CURRENT_RELEASE = frozenset({"rabbitmq-3.12-3.13", "rabbitmq-quorum-queues", "rabbitmq-durable-queues"})


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


def _hop(from_series: str, to_series: str, *releases: dict[str, Any]) -> HopPrep:
    """The hop's entry: what each release it reaches asks for, in order (a SLURP skip needs what
    the release it skips asked for too)."""
    prep = HopPrep(from_series, to_series, KOLLA_MAJOR_BY_SERIES[to_series])
    for release in releases:
        for key, value in release.items():
            have = getattr(prep, key)
            merged = {**have, **value} if isinstance(value, dict) else tuple(dict.fromkeys((*have, *value)))
            prep = replace(prep, **{key: merged})
    return prep


# Bobcat (2023.2, kolla-ansible 17), for the SLURP skip 2023.1 → 2024.1.
_BOBCAT: dict[str, Any] = {
    "new_passwords": (
        "haproxy_ssh_key",  # add-lets-encrypt-intergration-9e5f9846536379af.yaml
        "octavia_persistence_database_password",  # octavia_jobboard-823f44393f3e109e.yaml
        # expose-prometheus-on-external-api-78d5fff60f6e75a5.yaml: Prometheus takes basic auth.
        "prometheus_password",
        "prometheus_bcrypt_salt",
        "prometheus_grafana_password",
    ),
    # haproxy-drop-processes-f6951f7b995e0694.yaml: processes give way to threads.
    "removed_globals": {
        "haproxy_processes": "haproxy_threads",
        "haproxy_process_cpu_map": "haproxy_thread_cpu_map",
        "glance_tls_proxy_processes": "glance_tls_proxy_threads",
        "glance_tls_proxy_process_cpu_map": "glance_tls_proxy_thread_cpu_map",
        "neutron_tls_proxy_processes": "neutron_tls_proxy_threads",
        "neutron_tls_proxy_process_cpu_map": "neutron_tls_proxy_thread_cpu_map",
    },
    # make-quorum-queues-usable-552bfb2e8975f83f.yaml: non-HA queues are gone; 2023.1's RabbitMQ
    # guide asks for the move to quorum queues before the SLURP upgrade to 2024.1.
    "migrations": ("rabbitmq-quorum-queues",),
}
# Caracal (2024.1, kolla-ansible 18).
_CARACAL: dict[str, Any] = {
    "new_passwords": ("prometheus_skyline_password",),  # skyline-configure-prometheus-f86aea1beebcc379.yaml
    "removed_services": (
        "enable_freezer",  # drop-freezer-f41acd5519d643bf.yaml
        "enable_murano",  # drop-murano-51796e817e8331b4.yaml, with the outward RabbitMQ
        "enable_outward_rabbitmq",
        "enable_sahara",  # drop-sahara-9242926ee36e5316.yaml
        "enable_senlin",  # drop-senlin-be5be514825a5d92.yaml
        "enable_solum",  # drop-solum-5bbdd7f4fc937017.yaml
        "enable_vitrage",  # drop-vitrage-b7d94fd6038e0d60.yaml
    ),
}
# Dalmatian (2024.2, kolla-ansible 19), for the SLURP skip 2024.1 → 2025.1. No new passwords.
_DALMATIAN: dict[str, Any] = {
    "removed_globals": {
        # bug-2058644-1db8786303234787.yaml
        "mariabackup_image": "removed: backups use the MariaDB server's image",
        "mariabackup_tag": "removed: backups use the MariaDB server's image",
        "mariabackup_image_full": "removed: backups use the MariaDB server's image",
        # remove-any-errors-fatal-664fc2207074f0ef.yaml
        "kolla_ansible_setup_any_errors_fatal": "removed: set gather_facts_max_fail_percentage "
        "or kolla_max_fail_percentage to 0 instead",
        # No release note: the commit "cinder: Drop Hitachi HNAS NFS driver support".
        "enable_cinder_backend_hnas_nfs": "removed: cinder dropped the Hitachi HNAS NFS driver",
    },
    "removed_services": ("enable_prometheus_msteams",),  # drop-prometheus-msteams-9f8a90f4f03745c6.yaml
}
# Epoxy (2025.1, kolla-ansible 20): RabbitMQ 4.0, which has no classic mirrored queues.
# 20.0.0 no longer reads om_enable_rabbitmq_quorum_queues, om_enable_queue_manager or
# om_enable_rabbitmq_transient_quorum_queue either (no release note: the commit "Don't allow quorum
# queues to be disabled"), but they are not refused: kolla's RabbitMQ guide has them set for the
# migration, which runs on the current release.
_EPOXY: dict[str, Any] = {
    "new_passwords": (
        # No release note: passwords.yml of 20.0.0 (haproxy's checks of the Prometheus server).
        "prometheus_haproxy_password",
        # passwords.yml from 20.4.0 (add-valkey-df730af797de0baf.yaml: the Valkey role and the
        # optional kolla-ansible migrate-valkey); 2025.2 needs it.
        "valkey_master_password",
    ),
    "removed_globals": {
        # remove-om_enable_rabbitmq_high_availability-0e9ecae0240c516c.yaml
        "om_enable_rabbitmq_high_availability": "removed: RabbitMQ 4 has no classic mirrored "
        "queues; migrate to quorum queues",
        "letsencrypt_cert_server": "letsencrypt_external_cert_server",  # bug-2076331-f4ef64ad0a12aa85.yaml
        # enhance-ceph-multiple-clusters-integration-d29815a12c223152.yaml
        **{
            f"ceph_{service}_keyring": "removed: the keyring is named after the service's Ceph user"
            for service in ("cinder", "cinder_backup", "glance", "gnocchi", "manila", "nova")
        },
        # improve-ironic-pin-release-version-8f9e2b3c4d5a6b7c.yaml
        "openstack_previous_release_name": "removed: set ironic_pin_release_version if Ironic "
        "needs pinning (optional)",
        "glance_backend_swift": "removed with Swift",  # remove-swift-5ebd7b5c4a2cb5b7.yaml
    },
    # remove-swift-5ebd7b5c4a2cb5b7.yaml
    "removed_services": ("enable_swift", "enable_swift_s3api", "enable_swift_recon"),
    # kolla's 2025.1 RabbitMQ guide: every queue durable before the upgrade to Epoxy
    # (add-queue-manager-3ce79655ac37c345.yaml, enable_quorum_queues_transient-020b373831acda36.yaml,
    # rabbitmq-fanout-stream-queue-type-5b73723aa5e9b231.yaml); 20.x's prechecks refuse the rest.
    "migrations": ("rabbitmq-durable-queues",),
}
# Flamingo (2025.2, kolla-ansible 21): Valkey replaces Redis. Its upgrade moves Redis's data into
# Valkey itself once globals.yml turns Valkey on, so the move is no migration of Ferry's.
_FLAMINGO: dict[str, Any] = {
    # replace-redis-with-valkey-8f60e01c2460a301.yaml; kolla-mergepwd gives it
    # redis_master_password's value (bug-2138461-867ac0f0c465934b.yaml).
    "new_passwords": ("valkey_master_password",),
    "removed_globals": {
        "enable_redis": "enable_valkey",  # replace-redis-with-valkey-8f60e01c2460a301.yaml
        # drop-ironic-inspector-38fc91c64517ffc1.yaml
        "ironic_inspector_kernel_cmdline_extras": "ironic_kernel_cmdline_extras",
        "ironic_inspector_pxe_filter": "ironic_pxe_filter",
        "bifrost_enable_ironic_inspector": "removed with Ironic Inspector",
        # drop-legacy-iptables-1979f67a924d4da1.yaml
        "neutron_legacy_iptables": "removed: legacy iptables is gone",
        # drop-clustercheck-and-haproxy-support-for-mariadb-4cbd7c8590a34981.yaml
        "enable_mariadb_clustercheck": "removed: the upgrade deploys ProxySQL and removes clustercheck",
        # drop-vmware-support-6303715d3fb80946.yaml
        **{
            key: "removed: no VMware driver is deployed"
            for key in (
                "glance_backend_vmware",
                "cinder_backend_vmwarevc_vmdk",
                "cinder_backend_vmware_vstorage_object",
                "vmware_vcenter_host_ip",
                "vmware_vcenter_host_username",
                "vmware_vcenter_cluster_name",
                "vmware_vcenter_insecure",
            )
        },
    },
    "removed_services": (
        "enable_venus",  # drop-venus-b929071fb79b8026.yaml
        "enable_ironic_inspector",  # drop-ironic-inspector-38fc91c64517ffc1.yaml
    ),
}
# Gazpacho (2026.1, kolla-ansible 22). No new passwords.
_GAZPACHO: dict[str, Any] = {
    "removed_globals": {
        "lightbits_JWT": "lightbits_jwt",  # lightbits-jwt-84fba12dd05108c0.yaml
        # remove-distro-python-version-09adac8895cb87d1.yaml
        "distro_python_version": "removed: the images set Python's path",
        # ironic-drop-legacy-6ab1fa7c20a80ff7.yaml
        "ironic_enable_rolling_upgrade": "removed: Ironic always upgrades rolling",
        # drop-apache-wsgi-provider-5049b660249d0f20.yaml (22.0.0 ships it under ansible/releasenotes/)
        **{
            f"{service}_wsgi_provider": "removed: every API runs under uWSGI"
            for service in (
                "aodh",
                "cinder",
                "gnocchi",
                "heat",
                "horizon",
                "ironic",
                "keystone",
                "masakari",
                "nova",
                "octavia",
                "placement",
            )
        },
    },
    "removed_services": (
        "enable_zun",  # drop-kuryr-and-zun-0c88940bb0878090.yaml
        "enable_kuryr",
        "enable_influxdb",  # drop-influxdb-telegraf-53da82866d55c3e5.yaml
        "enable_telegraf",
    ),
}

HOPS: dict[tuple[str, str], HopPrep] = {
    (hop.from_series, hop.to_series): hop
    for hop in (
        # Skipping Bobcat, RabbitMQ moves 3.11 → 3.13, which it cannot do in one go: 2023.1's
        # RabbitMQ guide ("SLURP") upgrades it to 3.12 on Antelope first (kolla's rabbitmq-upgrade,
        # rabbitmq-target-upgrade-command-d5f9d9fc27fa28f8.yaml); the hop brings 3.13.
        _hop("2023.1", "2024.1", _BOBCAT, _CARACAL, {"migrations": ("rabbitmq-3.12-3.13",)}),
        _hop("2024.1", "2025.1", _DALMATIAN, _EPOXY),
        _hop("2024.2", "2025.1", _EPOXY),
        _hop("2025.1", "2025.2", _FLAMINGO),
        # The SLURP skip over Flamingo (RabbitMQ 4.0 → 4.2 is an upgrade 22.x allows:
        # rabbitmq-42-1c1178a735e3e55c.yaml).
        _hop("2025.1", "2026.1", _FLAMINGO, _GAZPACHO),
        _hop("2025.2", "2026.1", _GAZPACHO),
    )
}


def hop_prep(from_series: str, to_series: str) -> HopPrep:
    """What the hop ``from_series`` → ``to_series`` needs; only the target's kolla-ansible if the
    table has no entry (its major is 0 for a series kolla-ansible does not know)."""
    known = HOPS.get((from_series, to_series))
    if known:
        return known
    return HopPrep(from_series, to_series, KOLLA_MAJOR_BY_SERIES.get(to_series, 0))
