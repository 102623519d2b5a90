"""lab_validate: the validations before a maintenance, read from the lab's state; ``op`` selects one.

Each operation reads the host directories only. A finding that must stop a maintenance fails the
task with a message naming the host and what to do; one that only needs a look (a certificate
that expires soon) comes back in ``ferry_warnings`` and as an Ansible warning. ``lab_fail``
injects a failure per check: ``{host: ["ferry-validate:<check>"]}`` with the check's name
(``nova-status``, ``soft-deleted``, ``galera``, ``rabbitmq``, ``disk``, ``certificates``,
``compute-versions``).
"""

from __future__ import annotations

import datetime
from typing import Any

from ansible_collections.ferry.lab.plugins.module_utils import labaction
from ansible_collections.ferry.lab.plugins.module_utils import labcore as core

# What a lab host has free for container images unless its host.json says otherwise (free_gb).
DEFAULT_FREE_GB = 200


def _running(hd: core.HostDir, container: str) -> dict[str, Any] | None:
    data = core.read_json(hd.container_file(container))
    return data if isinstance(data, dict) and data.get("state") == "running" else None


def _nova_databases(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """nova's cell databases (``nova``, ``nova_cell0``, ``nova_<cell>``): nova_api has no instances."""
    return {
        name: db
        for name, db in sorted((data.get("databases") or {}).items())
        if name.startswith("nova") and name != "nova_api" and isinstance(db, dict)
    }


def _online_migrations_check(
    databases: dict[str, Any], names: list[str], release: str
) -> tuple[str, str, str]:
    """Online data migrations a nova database still owes (``labcore.online_migrations_pending``).

    Owed by an older release they stop ``release``'s nova-manage db sync: a failure. Owed by
    ``release`` itself (the cloud is there already) they stop the next upgrade: a warning.
    """
    check = "Online data migrations"
    owed: dict[str, list[str]] = {}
    for name in names:
        db = databases.get(name)
        pending = core.online_migrations_pending(db) if isinstance(db, dict) else None
        if pending in core.SERIES:
            owed.setdefault(pending, []).append(name)
    if not owed:
        return (check, "Success", "")
    blocking = any(core.release_index(pending) < core.release_index(release) for pending in owed)
    why = "; ".join(
        f"the online data migrations of {pending} have not run on {', '.join(held)}: "
        + core.online_migrations_advice(pending)
        for pending, held in sorted(owed.items())
    )
    if blocking:
        return (check, "Failure", f"{why}; {release}'s nova-manage db sync refuses until then")
    return (check, "Warning", f"{why} before the next upgrade")


class ActionModule(labaction.LabAction):
    """Validation checks; each ``op`` is one check of one host."""

    def _primary_data(self, ctx: Any) -> dict[str, Any]:
        hosts = ctx.mariadb_hosts()
        if not hosts:
            raise core.LabError("the inventory has no mariadb (or control) host")
        data = core.read_json(core.HostDir(ctx.lab_root, hosts[0]).data_file)
        if not isinstance(data, dict):
            raise core.LabError(f"MariaDB on {hosts[0]} has no data: deploy the cloud first")
        return data

    def op_nova_status(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """``nova-status upgrade check`` of ``release``'s nova: cells v2 mappings, every nova database
        one legal hop or less behind the release, its online data migrations finished, and no
        nova-compute older than ``compute_releases``.

        Real nova-status has no online data migrations check: the lab reports here what its
        nova-manage db sync of ``release`` would refuse, so a hop's validation finds it first."""
        release = str(args["release"])
        allowed = [str(r) for r in args.get("compute_releases") or [release]]
        ctx.pause()
        ctx.check_injected("nova-status")
        data = self._primary_data(ctx)
        databases = data.get("databases") or {}
        results: list[tuple[str, str, str]] = []
        missing = [name for name in ("nova_api", "nova_cell0") if name not in databases]
        results.append(
            (
                "Cells v2",
                "Failure",
                f"no {' or '.join(missing)} database: run nova-manage cell_v2 simple_cell_setup",
            )
            if missing
            else ("Cells v2", "Success", "")
        )
        behind = []
        for name in ["nova_api", *_nova_databases(data)]:
            schema = str((databases.get(name) or {}).get("schema") or "")
            if schema in core.SERIES and core.hop_problem(schema, release):
                behind.append(f"{name} is at {schema}")
        results.append(
            (
                "Database schema",
                "Failure",
                f"{'; '.join(behind)}: {release}'s nova cannot upgrade them in one step",
            )
            if behind
            else ("Database schema", "Success", "")
        )
        results.append(_online_migrations_check(databases, ["nova_api", *_nova_databases(data)], release))
        old = []
        for host in ctx.groups.get("all", []):
            compute = core.read_json(core.HostDir(ctx.lab_root, host).container_file("nova-compute"))
            if isinstance(compute, dict) and compute.get("release") not in allowed:
                old.append(f"{host} runs {compute.get('release')}")
        results.append(
            (
                "Older than N-1 computes",
                "Failure",
                f"{', '.join(old)}; {release} accepts {', '.join(allowed)}",
            )
            if old
            else ("Older than N-1 computes", "Success", "")
        )
        output = "\n".join(
            f"Check: {check}  Result: {result}" + (f"  Details: {why}" if why else "")
            for check, result, why in results
        )
        failures = [f"{check}: {why}" for check, result, why in results if result == "Failure"]
        if failures:
            raise core.LabError(
                f"nova-status upgrade check ({release}) on {ctx.host} failed: " + "; ".join(failures)
            )
        warned = [
            f"nova-status upgrade check ({release}) on {ctx.host} warns: {check}: {why}"
            for check, result, why in results
            if result == "Warning"
        ]
        if warned:
            return {"msg": "; ".join(warned), "stdout": output, "ferry_warnings": warned, "warnings": warned}
        return {
            "msg": f"nova-status upgrade check ({release}) on {ctx.host}: every check succeeded",
            "stdout": output,
        }

    def op_soft_deleted(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Soft-deleted rows of each nova cell database (``soft_deleted`` in the lab's data) above
        ``threshold``: nova's schema migrations then take long, so archive them first."""
        threshold = int(args.get("threshold") or 0)
        ctx.pause()
        ctx.check_injected("soft-deleted")
        counts = {
            name: int(db.get("soft_deleted") or 0)
            for name, db in _nova_databases(self._primary_data(ctx)).items()
        }
        over = [
            f"{name} holds {count} soft-deleted rows" for name, count in counts.items() if count > threshold
        ]
        if over:
            raise core.LabError(
                f"{'; '.join(over)} (threshold {threshold}, on {ctx.host}): archive them before the upgrade "
                "with nova-manage db archive_deleted_rows --until-complete (Ferry's archive job)"
            )
        return {"msg": f"soft-deleted rows at most {threshold} per database", "soft_deleted": counts}

    def op_galera(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """This node's view of the Galera cluster: wsrep_cluster_size is the number of database hosts
        and the node is Synced (a container may say otherwise in ``wsrep_local_state_comment``)."""
        ctx.pause()
        ctx.check_injected("galera")
        hosts = ctx.mariadb_hosts()
        mine = _running(ctx.hd, "mariadb")
        if mine is None:
            raise core.LabError(f"Galera on {ctx.host}: the mariadb container is not running")
        up = [h for h in hosts if _running(core.HostDir(ctx.lab_root, h), "mariadb")]
        state = str(mine.get("wsrep_local_state_comment") or "Synced")
        problems = []
        if len(up) != len(hosts):
            down = ", ".join(h for h in hosts if h not in up)
            problems.append(f"wsrep_cluster_size is {len(up)}, not {len(hosts)} ({down} not in the cluster)")
        if state != "Synced":
            problems.append(f"wsrep_local_state_comment is {state}, not Synced")
        if problems:
            raise core.LabError(
                f"Galera on {ctx.host}: {'; '.join(problems)}: bring every node back "
                "(kolla-ansible mariadb_recovery) before the maintenance"
            )
        return {"msg": f"Galera on {ctx.host}: {len(up)} nodes, Synced", "wsrep_cluster_size": len(up)}

    def op_rabbitmq(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """``rabbitmqctl cluster_status`` on this node: every RabbitMQ host running, no partitions
        (a container may list some in ``partitions``)."""
        ctx.pause()
        ctx.check_injected("rabbitmq")
        hosts = [str(h) for h in args.get("hosts") or []]
        mine = _running(ctx.hd, "rabbitmq")
        if mine is None:
            raise core.LabError(f"RabbitMQ on {ctx.host}: the rabbitmq container is not running")
        running = [h for h in hosts if _running(core.HostDir(ctx.lab_root, h), "rabbitmq")]
        partitions = [str(p) for p in mine.get("partitions") or []]
        problems = []
        if len(running) != len(hosts):
            problems.append(f"not running on {', '.join(h for h in hosts if h not in running)}")
        if partitions:
            problems.append(f"partitioned from {', '.join(partitions)}")
        if problems:
            raise core.LabError(
                f"RabbitMQ cluster seen from {ctx.host}: {'; '.join(problems)}: heal the cluster "
                "(restart the partitioned nodes) before the maintenance"
            )
        return {"msg": f"RabbitMQ on {ctx.host}: {len(running)} nodes running, no partitions"}

    def op_disk(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Free space for container images (``free_gb`` in host.json) of at least ``min_free_gb``."""
        needed = float(args.get("min_free_gb") or 0)
        ctx.pause()
        ctx.check_injected("disk")
        info = core.read_json(ctx.hd.host_file, {}) or {}
        free = float(info.get("free_gb", DEFAULT_FREE_GB))
        if free < needed:
            raise core.LabError(
                f"{ctx.host} has {free:g} GB free for container images, {needed:g} GB needed: "
                "prune unused images (docker image prune) or grow the disk"
            )
        return {"msg": f"{ctx.host}: {free:g} GB free for container images", "free_gb": free}

    def op_certificates(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """The host's certificates (``certificates.json``: file name to notAfter, ISO 8601): an expired
        one fails, one expiring within ``warn_days`` is a warning."""
        warn_days = float(args.get("warn_days") or 0)
        ctx.pause()
        ctx.check_injected("certificates")
        found = core.read_json(ctx.hd.root / "certificates.json", {}) or {}
        now = datetime.datetime.now(datetime.UTC)
        expired, soon = [], []
        for name, not_after in sorted(found.items()):
            when = datetime.datetime.fromisoformat(str(not_after))
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.UTC)
            days = (when - now).total_seconds() / 86400
            if days <= 0:
                expired.append(f"{name} expired on {when:%Y-%m-%d}")
            elif days <= warn_days:
                soon.append(f"certificate {name} on {ctx.host} expires on {when:%Y-%m-%d} ({int(days)} days)")
        if expired:
            raise core.LabError(
                f"certificates on {ctx.host}: {'; '.join(expired)}: renew them and reconfigure"
            )
        result: dict[str, Any] = {
            "msg": f"{ctx.host}: {len(found)} certificates, none expiring within {warn_days:g} days"
        }
        if soon:
            result.update(msg="; ".join(soon), ferry_warnings=soon, warnings=soon)
        return result

    def op_compute_version(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """This host's nova-compute runs one of ``compute_releases`` (within one legal hop of the target)."""
        allowed = [str(r) for r in args.get("compute_releases") or []]
        ctx.pause()
        ctx.check_injected("compute-versions")
        compute = core.read_json(ctx.hd.container_file("nova-compute")) or {}
        running = compute.get("release")
        if running not in allowed:
            raise core.LabError(
                f"nova-compute on {ctx.host} runs {running}; the target accepts computes on "
                f"{', '.join(allowed)} only: upgrade this compute first (or take the hops in between)"
            )
        return {"msg": f"nova-compute on {ctx.host} runs {running}"}
