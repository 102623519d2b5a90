"""The lab's model of a kolla host: directory layout, state files, releases and services.

Loaded by file path from the lab action plugins (which run inside ansible-playbook) and from
``runner/lab.py`` (which runs in Ferry), so it only uses the standard library.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (series, name, SLURP) oldest first, as in DESIGN.md.
RELEASES: tuple[tuple[str, str, bool], ...] = (
    ("2015.2", "liberty", False),
    ("2016.1", "mitaka", False),
    ("2016.2", "newton", False),
    ("2017.1", "ocata", False),
    ("2017.2", "pike", False),
    ("2018.1", "queens", False),
    ("2018.2", "rocky", False),
    ("2019.1", "stein", False),
    ("2019.2", "train", False),
    ("2020.1", "ussuri", False),
    ("2020.2", "victoria", False),
    ("2021.1", "wallaby", False),
    ("2021.2", "xena", False),
    ("2022.1", "yoga", False),
    ("2022.2", "zed", False),
    ("2023.1", "antelope", True),
    ("2023.2", "bobcat", False),
    ("2024.1", "caracal", True),
    ("2024.2", "dalmatian", False),
    ("2025.1", "epoxy", True),
    ("2025.2", "flamingo", False),
    ("2026.1", "gazpacho", True),
    ("2026.2", "hibiscus", False),
    ("2027.1", "indri", True),
)
SERIES = tuple(r[0] for r in RELEASES)
SLURP = frozenset(r[0] for r in RELEASES if r[2])


class LabError(Exception):
    """A lab operation refused or failed; the message is shown as the task's failure."""


def release_index(series: str) -> int:
    """Position of a release series in RELEASES, or LabError for an unknown one."""
    try:
        return SERIES.index(str(series))
    except ValueError:
        raise LabError(f"unknown OpenStack release {series!r}") from None


def legal_targets(current: str) -> list[str]:
    """Releases one legal upgrade hop away from ``current``: N+1, and the next SLURP from a SLURP."""
    i = release_index(current)
    targets = list(SERIES[i + 1 : i + 2])
    if current in SLURP:
        nxt = next((s for s in SERIES[i + 1 :] if s in SLURP), None)
        if nxt and nxt not in targets:
            targets.append(nxt)
    return targets


def hop_problem(current: str, target: str) -> str | None:
    """Why going from ``current`` to ``target`` is not a legal upgrade, or None when it is (or a no-op)."""
    ci, ti = release_index(current), release_index(target)
    if ci == ti:
        return None
    if ti < ci:
        return (
            f"{target} is older than the running {current}: downgrades do not exist, "
            "restore a database backup taken at that release instead"
        )
    if target in legal_targets(current):
        return None
    legal = " or ".join(legal_targets(current)) or "none"
    return (
        f"{current} -> {target} is not a legal upgrade hop (from {current} the next hop is {legal}); "
        "a longer jump is a fast-forward upgrade through every hop"
    )


def release_from_tag(tag: str) -> str:
    """The release series an image tag such as ``2025.1-rocky-9`` belongs to."""
    series = str(tag).split("-", 1)[0]
    release_index(series)
    return series


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def now_iso() -> str:
    """The current UTC time as ISO 8601, as stored in state files."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file's content, or ``default`` when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def write_json(path: Path, data: Any) -> None:
    """Atomically replace ``path`` with ``data`` as JSON."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(lab_root: str | os.PathLike[str], name: str) -> Iterator[None]:
    """Serialise writers of shared lab state (the MariaDB cluster) across forks and processes."""
    lock_dir = Path(lab_root) / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class HostDir:
    """Paths inside one lab host's directory, ``<lab_root>/<inventory_hostname>/``."""

    def __init__(self, lab_root: str | os.PathLike[str], host: str) -> None:
        self.lab_root = Path(lab_root)
        self.host = host
        self.root = self.lab_root / host
        self.host_file = self.root / "host.json"
        self.health_file = self.root / "health.json"
        self.images_file = self.root / "images.json"
        self.containers_dir = self.root / "containers"
        self.kolla_dir = self.root / "etc" / "kolla"
        self.volumes_dir = self.root / "volumes"
        self.data_file = self.volumes_dir / "mariadb" / "ibdata1"
        self.backup_dir = self.volumes_dir / "mariadb_backup"

    def container_file(self, name: str) -> Path:
        """The JSON file that stands for one container."""
        return self.containers_dir / f"{name}.json"

    def config_dir(self, service: str) -> Path:
        """``etc/kolla/<service>``: the configuration a service's container reads."""
        return self.kolla_dir / service

    def containers(self) -> dict[str, dict[str, Any]]:
        """Every container on the host, by name."""
        if not self.containers_dir.is_dir():
            return {}
        found = {}
        for path in sorted(self.containers_dir.glob("*.json")):
            data = read_json(path)
            if isinstance(data, dict):
                found[path.stem] = data
        return found

    def config_checksum(self, service: str) -> str | None:
        """sha256 over a service's configuration files (names and content), None if it has none."""
        directory = self.config_dir(service)
        if not directory.is_dir():
            return None
        digest = hashlib.sha256()
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(directory)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()

    def health(self) -> dict[str, Any] | None:
        """``health.json``: {"status": "healthy"|"degraded", "reason": ...}, None if never set."""
        return read_json(self.health_file)

    def set_health(self, status: str, reason: str = "") -> None:
        """Write ``health.json``."""
        write_json(self.health_file, {"status": status, "reason": reason, "updated": now_iso()})

    def backups(self) -> list[dict[str, Any]]:
        """MariaDB backups on this host, oldest first (their ``meta.json`` plus ``name``)."""
        if not self.backup_dir.is_dir():
            return []
        found = []
        for path in sorted(self.backup_dir.iterdir()):
            meta = read_json(path / "meta.json")
            if isinstance(meta, dict):
                found.append({**meta, "name": path.name})
        return found


def container_releases(containers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Distinct releases the given containers run, oldest first."""
    releases = {c.get("release") for c in containers.values() if c.get("release") in SERIES}
    return sorted(releases, key=release_index)


@dataclass(frozen=True)
class Service:
    """A kolla container; a host runs it when it is in kolla's group for it, else by ``role``.

    ``group`` is kolla's inventory group for the service (default: its name).
    """

    name: str
    project: str
    image: str
    role: str
    # nova only: "api" services upgrade with nova-api-upgrade, "cell" ones with nova-cell-upgrade.
    stage: str = ""
    conf: str = ""
    group: str = ""
    container_name: str = ""  # kolla's container name, when it is not the name with underscores

    @property
    def container(self) -> str:
        """kolla's name of the container (``nova_libvirt``), as ``skip_stop_containers`` lists it."""
        return self.container_name or self.name.replace("-", "_")


# In kolla's deploy order; ``role`` is resolved by ``host_services``.
SERVICES: tuple[Service, ...] = (
    Service("haproxy", "loadbalancer", "haproxy", "loadbalancer", conf="haproxy.cfg"),
    Service("keepalived", "loadbalancer", "keepalived", "loadbalancer", conf="keepalived.conf"),
    Service("mariadb", "mariadb", "mariadb-server", "mariadb", conf="galera.cnf"),
    Service("memcached", "memcached", "memcached", "control", conf="memcached.conf"),
    Service("rabbitmq", "rabbitmq", "rabbitmq", "control", conf="rabbitmq.conf"),
    Service("keystone", "keystone", "keystone", "control", conf="keystone.conf"),
    Service("glance-api", "glance", "glance-api", "control", conf="glance-api.conf"),
    Service("cinder-api", "cinder", "cinder-api", "control", conf="cinder.conf"),
    Service("cinder-scheduler", "cinder", "cinder-scheduler", "control", conf="cinder.conf"),
    Service("cinder-volume", "cinder", "cinder-volume", "storage", conf="cinder.conf"),
    Service("cinder-backup", "cinder", "cinder-backup", "storage", conf="cinder.conf"),
    Service("placement-api", "placement", "placement-api", "control", conf="placement.conf"),
    Service(
        "openvswitch-db-server",
        "openvswitch",
        "openvswitch-db-server",
        "openvswitch",
        conf="ovsdb.conf",
        container_name="openvswitch_db",
    ),
    Service(
        "openvswitch-vswitchd", "openvswitch", "openvswitch-vswitchd", "openvswitch", conf="vswitchd.conf"
    ),
    Service("nova-api", "nova", "nova-api", "control", stage="api", conf="nova.conf"),
    Service("nova-scheduler", "nova", "nova-scheduler", "control", stage="api", conf="nova.conf"),
    Service(
        "nova-conductor",
        "nova",
        "nova-conductor",
        "control",
        stage="api",
        conf="nova.conf",
        group="nova-super-conductor",
        container_name="nova_super_conductor",
    ),
    Service(
        "nova-cell-conductor",
        "nova",
        "nova-conductor",
        "cell-conductor",
        stage="cell",
        conf="nova.conf",
        container_name="nova_conductor",
    ),
    Service("nova-novncproxy", "nova", "nova-novncproxy", "cell-novncproxy", stage="cell", conf="nova.conf"),
    Service("nova-libvirt", "nova", "nova-libvirt", "compute", stage="cell", conf="libvirtd.conf"),
    Service("nova-ssh", "nova", "nova-ssh", "compute", stage="cell", conf="sshd_config"),
    Service("nova-compute", "nova", "nova-compute", "compute", stage="cell", conf="nova.conf"),
    Service("neutron-server", "neutron", "neutron-server", "control", conf="neutron.conf"),
    Service(
        "neutron-openvswitch-agent",
        "neutron",
        "neutron-openvswitch-agent",
        "openvswitch",
        conf="neutron.conf",
    ),
    Service("neutron-dhcp-agent", "neutron", "neutron-dhcp-agent", "network", conf="neutron.conf"),
    Service("neutron-l3-agent", "neutron", "neutron-l3-agent", "network", conf="neutron.conf"),
    Service("neutron-metadata-agent", "neutron", "neutron-metadata-agent", "network", conf="neutron.conf"),
    Service("horizon", "horizon", "horizon", "control", conf="local_settings"),
    Service("prometheus-server", "prometheus", "prometheus-v2-server", "monitoring", conf="prometheus.yml"),
    Service("grafana", "grafana", "grafana", "monitoring", conf="grafana.ini"),
)
SERVICES_BY_NAME = {s.name: s for s in SERVICES}
PROJECTS: tuple[str, ...] = tuple(dict.fromkeys(s.project for s in SERVICES))
# Databases each project's bootstrap (db sync) owns; nova's cell databases are per cell.
PROJECT_DATABASES: dict[str, tuple[str, ...]] = {
    "keystone": ("keystone",),
    "glance": ("glance",),
    "cinder": ("cinder",),
    "placement": ("placement",),
    "nova": ("nova_api", "nova_cell0"),
    "neutron": ("neutron",),
    "grafana": ("grafana",),
}
# Roles that are not an inventory group of the same name.
_CELL_ROLES = {"cell-conductor", "cell-novncproxy"}


# The lab's model of the RabbitMQ and libvirt each release's images carry (X.Y and X.Y.Z), for
# kolla's version checks; the numbers are the lab's, the rules are kolla's.
RABBITMQ_VERSIONS: dict[str, str] = {"2023.2": "3.12", "2024.1": "3.13", "2024.2": "3.13", "2025.1": "4.0"}
RABBITMQ_VERSIONS.update({"2025.2": "4.1", "2026.1": "4.1", "2026.2": "4.2", "2027.1": "4.2"})
# kolla's rabbitmq_allowed_upgrades: jumps beyond the next minor version that RabbitMQ supports.
RABBITMQ_ALLOWED_UPGRADES: dict[str, tuple[str, ...]] = {"3.11": ("3.13",), "3.13": ("4.0", "4.1", "4.2")}
LIBVIRT_VERSIONS: dict[str, str] = {"2024.1": "9.0.0", "2024.2": "10.0.0", "2025.1": "10.0.0"}
LIBVIRT_VERSIONS.update({"2025.2": "10.10.0", "2026.1": "11.0.0", "2026.2": "11.5.0", "2027.1": "11.5.0"})


def rabbitmq_version(series: str) -> str:
    """The RabbitMQ version (X.Y) of a release's rabbitmq image, in the lab's model."""
    release_index(series)
    return RABBITMQ_VERSIONS.get(series, "3.11")


def libvirt_version(series: str) -> str:
    """The libvirt version (X.Y.Z) of a release's nova-libvirt image, in the lab's model."""
    release_index(series)
    return LIBVIRT_VERSIONS.get(series, "8.0.0")


def version_key(version: str) -> tuple[int, ...]:
    """A dotted version as numbers, to compare."""
    return tuple(int(part) for part in version.split("."))


def rabbitmq_problem(current: str, new: str) -> str | None:
    """kolla's rabbitmq-version-check: why RabbitMQ ``current`` cannot become ``new``, or None."""
    if version_key(new) < version_key(current):
        return (
            f"Looks like you're about to downgrade RabbitMQ from version {current} to version {new}. "
            "If you're absolutely certain you want to do this, please skip the tag `rabbitmq-version-check`."
        )
    (cur_major, cur_minor), (new_major, new_minor) = version_key(current)[:2], version_key(new)[:2]
    standard = cur_major == new_major and new_minor == cur_minor + 1
    if current == new or standard or new in RABBITMQ_ALLOWED_UPGRADES.get(current, ()):
        return None
    return (
        f"Invalid upgrade path detected! You are trying to go from RabbitMQ {current} to {new}. "
        f"Please upgrade to an intermediate version first ({cur_major}.{cur_minor + 1})."
    )


def libvirt_problem(current: str, new: str) -> str | None:
    """kolla's nova-libvirt-version-check: why libvirt ``current`` cannot become ``new``, or None."""
    if version_key(new) >= version_key(current):
        return None
    return (
        "It looks like you're about to downgrade Libvirt in the nova_libvirt container from "
        f"version {current} to version {new}. If you're absolutely certain that you want to do "
        "this, please skip the tag `nova-libvirt-version-check`."
    )


# The options the lab's validate-config knows, per section, beside those of lab_service_config: the
# ones operators override most (oslo.config names). A section not listed here is not judged.
KNOWN_OPTIONS: dict[str, frozenset[str]] = {
    "DEFAULT": frozenset(
        [
            "debug",
            "log_dir",
            "host",
            "transport_url",
            "my_ip",
            "cpu_allocation_ratio",
            "ram_allocation_ratio",
            "disk_allocation_ratio",
            "initial_cpu_allocation_ratio",
            "initial_ram_allocation_ratio",
            "initial_disk_allocation_ratio",
            "reserved_host_memory_mb",
            "reserved_host_disk_mb",
            "reserved_host_cpus",
            "default_log_levels",
            "use_stderr",
            "enabled_apis",
            "osapi_compute_workers",
            "metadata_workers",
            "api_workers",
            "rpc_response_timeout",
            "executor_thread_pool_size",
            "state_path",
            "max_concurrent_builds",
            "heal_instance_info_cache_interval",
            "block_device_allocate_retries",
            "instance_usage_audit",
            "enabled_backends",
            "core_plugin",
            "service_plugins",
            "global_physnet_mtu",
            "dhcp_agents_per_network",
            "l3_ha",
            "allow_overlapping_ips",
            "metadata_proxy_shared_secret",
            "default_volume_type",
            "show_image_direct_url",
        ]
    ),
    "libvirt": frozenset(
        [
            "virt_type",
            "cpu_mode",
            "cpu_models",
            "cpu_model_extra_flags",
            "images_type",
            "images_rbd_pool",
            "rbd_user",
            "rbd_secret_uuid",
            "hw_machine_type",
            "disk_cachemodes",
            "live_migration_permit_auto_converge",
            "live_migration_permit_post_copy",
            "num_pcie_ports",
        ]
    ),
    "scheduler": frozenset(["max_attempts", "workers", "discover_hosts_in_cells_interval"]),
    "filter_scheduler": frozenset(
        ["enabled_filters", "available_filters", "host_subset_size", "weight_classes"]
    ),
    "database": frozenset(
        [
            "connection",
            "slave_connection",
            "max_pool_size",
            "max_overflow",
            "connection_recycle_time",
            "max_retries",
        ]
    ),
    "oslo_messaging_rabbit": frozenset(
        ["rabbit_quorum_queue", "rabbit_ha_queues", "heartbeat_timeout_threshold", "amqp_durable_queues"]
    ),
}


def cell_database(cell_name: str | None) -> str:
    """The database of a nova cell: ``nova_<cell>``, or ``nova`` for the unnamed default cell."""
    return f"nova_{cell_name}" if cell_name else "nova"


def is_nova_database(name: str) -> bool:
    """nova's databases: ``nova_api``, ``nova_cell0`` and each cell's (``nova``, ``nova_<cell>``)."""
    return name == "nova" or name.startswith("nova_")


def online_migrations_pending(db: Mapping[str, Any]) -> str | None:
    """The release whose online data migrations a database still owes, or None when they are done.

    ``online_migrations`` is the release whose ``nova-manage db online_data_migrations`` last
    finished on it; a database created at its release has nothing to migrate. Data written before
    deploy recorded that (None, never upgraded) counts as migrated too.
    """
    schema = db.get("schema")
    done = db.get("online_migrations")
    if done == schema:
        return None
    if done is None and not any("from" in m for m in db.get("migrations") or []):
        return None
    return str(schema)


def online_migrations_advice(release: str) -> str:
    """What to run to finish ``release``'s online data migrations, in nova's and kolla's terms."""
    return (
        f"run nova-manage db online_data_migrations for {release} (kolla-ansible upgrade --tags "
        f"nova-online-data-migrations, or nova-reload,nova-online-data-migrations, with openstack_release "
        f"{release})"
    )


def mariadb_hosts(groups: Mapping[str, Iterable[str]]) -> list[str]:
    """Hosts of the MariaDB cluster: the ``mariadb`` group when the inventory has one, else ``control``."""
    if groups.get("mariadb"):
        return list(groups["mariadb"])
    return list(groups.get("control", []))


def host_services(
    host: str,
    groups: Mapping[str, Iterable[str]],
    *,
    cell_conductor_group: str | None = None,
    cell_novncproxy_group: str | None = None,
) -> list[Service]:
    """The services ``host`` runs, in deploy order.

    When the inventory has kolla's group for a service (``nova-compute``, ``nova-super-conductor``...)
    its members run it. Otherwise the service's role decides: the group named like the role when the
    inventory has a non-empty one, else a fallback (``loadbalancer``: network, else control;
    ``mariadb``: control; ``openvswitch``: network and compute). Cell services run on the cell's
    conductor and console proxy groups, named by the host's ``nova_cell_*_group`` variables (kolla's
    defaults: ``nova-conductor`` and ``nova-novncproxy``; control when the inventory has neither).
    """
    members = {name: set(hosts) for name, hosts in groups.items()}

    def cell_group(*candidates: str | None) -> set[str]:
        for candidate in candidates:
            if candidate and candidate in members:
                return members[candidate]
        return members.get("control", set())

    def in_role(role: str) -> bool:
        if role == "cell-conductor":
            return host in cell_group(cell_conductor_group, "nova-conductor")
        if role == "cell-novncproxy":
            return host in cell_group(
                cell_novncproxy_group, "nova-novncproxy", cell_conductor_group, "nova-conductor"
            )
        return host in _role_hosts(role, members)

    chosen = []
    for service in SERVICES:
        group = service.group or service.name
        if service.role not in _CELL_ROLES and group in members:
            runs = host in members[group]
        else:
            runs = in_role(service.role)
        if runs:
            chosen.append(service)
    return chosen


def _role_hosts(role: str, members: Mapping[str, set[str]]) -> set[str]:
    """The hosts of a role outside the cells: its group when non-empty, else the fallback."""
    if members.get(role):
        return members[role]
    if role == "loadbalancer":
        return members.get("network") or members.get("control") or set()
    if role == "mariadb":
        return members.get("control", set())
    if role == "openvswitch":
        return members.get("network", set()) | members.get("compute", set())
    return set()


def bootstrap_hosts(groups: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """The host each project's database bootstrap runs on: the first host, in inventory order, of
    the project's first service (its API), as kolla delegates it to ``groups[<api group>][0]``.

    Not whichever host comes first in the play: that may be a compute or a cell's conductor, and
    a failure there would fail the bootstrap, and with it the whole play, for every host.
    """
    members = {name: set(hosts) for name, hosts in groups.items()}
    found = {}
    for project in PROJECT_DATABASES:
        api = next(s for s in SERVICES if s.project == project)
        group = api.group or api.name
        hosts = members[group] if group in members else _role_hosts(api.role, members)
        first = next((h for h in groups.get("all", ()) if h in hosts), None)
        if first:
            found[project] = first
    return found


def plain(value: Any) -> Any:
    """A copy of ``value`` with Ansible's tagged/lazy containers turned into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def remove_tree(path: Path) -> bool:
    """Remove a file or directory tree; True if something was there."""
    if path.is_dir():
        shutil.rmtree(path)
        return True
    if path.exists():
        path.unlink()
        return True
    return False
