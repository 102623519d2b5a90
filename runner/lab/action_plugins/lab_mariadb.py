"""lab_mariadb: the lab's MariaDB cluster: data files, schema migrations, backups and recovery.

Every MariaDB host holds a copy of the cluster's data file (``volumes/mariadb/ibdata1``); writes go
to the primary (first host of the ``mariadb`` group, else ``control``) and are replicated to the
others, under a lock shared by all forks.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.ferry.lab.plugins.module_utils import labaction
from ansible_collections.ferry.lab.plugins.module_utils import labcore as core

SEED_ROWS = 20


def _new_database(name: str, release: str) -> dict[str, Any]:
    now = core.now_iso()
    return {
        "schema": release,
        "created": now,
        "migrations": [{"to": release, "at": now}],
        "online_migrations": None,
        "rows": [{"id": i, "name": f"{name}-{i:04d}", "created": now} for i in range(1, SEED_ROWS + 1)],
    }


def _copy_verified(source: Path, dest: Path, sha256: str) -> None:
    """Copy ``source`` over ``dest`` atomically and fail unless the copy has the expected checksum."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        got = core.sha256_file(tmp)
        if got != sha256:
            raise core.LabError(f"copy of {source} to {dest} has checksum {got}, expected {sha256}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ActionModule(labaction.LabAction):
    """MariaDB operations; ``op`` selects one."""

    def _cluster(self, ctx: Any) -> list[core.HostDir]:
        hosts = ctx.mariadb_hosts()
        if not hosts:
            raise core.LabError("the inventory has no mariadb (or control) host")
        return [core.HostDir(ctx.lab_root, h) for h in hosts]

    def _primary_data(self, ctx: Any) -> tuple[list[Any], dict[str, Any]]:
        cluster = self._cluster(ctx)
        primary = cluster[0]
        data = core.read_json(primary.data_file)
        if not isinstance(data, dict):
            raise core.LabError(f"MariaDB on {primary.host} has no data: deploy mariadb first")
        container = core.read_json(primary.container_file("mariadb")) or {}
        if container.get("state") != "running":
            raise core.LabError(f"MariaDB is not running on {primary.host}")
        return cluster, data

    @staticmethod
    def _replicate(cluster: list[Any], data: dict[str, Any]) -> None:
        data["seq"] = int(data.get("seq", 0)) + 1
        data["updated"] = core.now_iso()
        for hd in cluster:
            if hd.data_file.exists() or hd is cluster[0]:
                core.write_json(hd.data_file, data)

    def op_bootstrap_cluster(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Create the cluster's data on the primary, or join it (copy the primary's data)."""
        ctx.pause()
        ctx.check_injected("mariadb")
        cluster = self._cluster(ctx)
        primary = cluster[0]
        changed = False
        with core.locked(ctx.lab_root, "mariadb"):
            if not primary.data_file.exists():
                core.write_json(
                    primary.data_file,
                    {"format": 1, "seq": 0, "created": core.now_iso(), "databases": {}},
                )
                changed = True
            if ctx.host != primary.host and not ctx.hd.data_file.exists():
                _copy_verified(primary.data_file, ctx.hd.data_file, core.sha256_file(primary.data_file))
                changed = True
        return {"changed": changed, "primary": primary.host}

    def op_db_sync(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Create the databases at ``release``, or (upgrade only) migrate their schema to it."""
        release = str(args["release"])
        core.release_index(release)
        names = [str(n) for n in args.get("databases") or []]
        ctx.pause()
        ctx.check_injected(args.get("service"))
        with core.locked(ctx.lab_root, "mariadb"):
            cluster, data = self._primary_data(ctx)
            databases = data.setdefault("databases", {})
            changed = []
            for name in names:
                db = databases.get(name)
                if not db:
                    databases[name] = _new_database(name, release)
                    changed.append(f"{name}: created at {release}")
                    continue
                schema = str(db.get("schema"))
                if schema == release:
                    continue
                if core.release_index(schema) > core.release_index(release):
                    raise core.LabError(
                        f"database {name} has schema {schema}, newer than {release}: "
                        "downgrades do not exist, restore a backup"
                    )
                if ctx.action != "upgrade":
                    raise core.LabError(
                        f"database {name} has schema {schema}, older than {release}: run upgrade"
                    )
                problem = core.hop_problem(schema, release)
                if problem:
                    raise core.LabError(f"refusing to migrate database {name}: {problem}")
                db["schema"] = release
                db.setdefault("migrations", []).append({"from": schema, "to": release, "at": core.now_iso()})
                changed.append(f"{name}: {schema} -> {release}")
            if changed:
                self._replicate(cluster, data)
        return {
            "changed": bool(changed),
            "msg": "; ".join(changed) or "schemas up to date",
            "databases": {n: databases[n]["schema"] for n in names},
        }

    def op_online_migrations(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Run the online data migrations of ``databases`` (or all named ``prefix*``) for ``release``."""
        release = str(args["release"])
        ctx.pause()
        ctx.check_injected(args.get("service"))
        with core.locked(ctx.lab_root, "mariadb"):
            cluster, data = self._primary_data(ctx)
            databases = data.get("databases") or {}
            names = [str(n) for n in args.get("databases") or []]
            if args.get("prefix"):
                names += sorted(n for n in databases if n.startswith(str(args["prefix"])))
            changed = []
            for name in names:
                db = databases.get(name)
                if db and db.get("online_migrations") != release:
                    db["online_migrations"] = release
                    changed.append(name)
            if changed:
                self._replicate(cluster, data)
        return {"changed": bool(changed), "databases": changed}

    def op_backup(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Copy the data file into ``volumes/mariadb_backup/<name>/`` with its sha256."""
        kind = str(args.get("type") or "full")
        if kind not in ("full", "incremental"):
            raise core.LabError(f"mariadb_backup_type must be full or incremental, not {kind!r}")
        ctx.pause()
        ctx.check_injected()
        parent = None
        if kind == "incremental":
            fulls = [b for b in ctx.hd.backups() if b.get("type") == "full"]
            if not fulls:
                raise core.LabError(f"no full backup on {ctx.host} to base an incremental backup on")
            parent = fulls[-1]["name"]
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"mysqlbackup-{stamp}-{kind}"
        target = ctx.hd.backup_dir / name
        with core.locked(ctx.lab_root, "mariadb"):
            if not ctx.hd.data_file.exists():
                raise core.LabError(f"no MariaDB data on {ctx.host} to back up")
            data = core.read_json(ctx.hd.data_file) or {}
            sha256 = core.sha256_file(ctx.hd.data_file)
            _copy_verified(ctx.hd.data_file, target / "ibdata1", sha256)
        (target / "ibdata1.sha256").write_text(f"{sha256}  ibdata1\n")
        meta = {
            "type": kind,
            "parent": parent,
            "sha256": sha256,
            "size": (target / "ibdata1").stat().st_size,
            "created": core.now_iso(),
            "host": ctx.host,
            "databases": {n: d.get("schema") for n, d in sorted((data.get("databases") or {}).items())},
        }
        core.write_json(target / "meta.json", meta)
        return {"changed": True, "backup": name, "sha256": sha256, "type": kind, "parent": parent}

    def op_fetch(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Copy the newest backup on this host (its data and meta.json) into ``dest``, as a fetch would.

        The copy is not checked here: the side that keeps it recomputes the checksum itself.
        """
        ctx.pause()
        ctx.check_injected()
        dest = Path(str(args["dest"]))
        backups = ctx.hd.backups()
        if not backups:
            raise core.LabError(f"no MariaDB backup on {ctx.host} to copy")
        meta = backups[-1]
        source = ctx.hd.backup_dir / meta["name"]
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "ibdata1", dest / "data")
        core.write_json(dest / "meta.json", {**meta, "node": ctx.host})
        return {"changed": True, "backup": meta["name"], "dest": str(dest), "sha256": meta["sha256"]}

    def _verified_backup(self, ctx: Any, hd: Any, name: str) -> dict[str, Any]:
        backups = {b["name"]: b for b in hd.backups()}
        if name not in backups:
            raise core.LabError(f"backup {name} not found on {hd.host}")
        meta = backups[name]
        got = core.sha256_file(hd.backup_dir / name / "ibdata1")
        if got != meta.get("sha256"):
            raise core.LabError(
                f"backup {name} on {hd.host} is corrupt: sha256 {got}, recorded {meta.get('sha256')}"
            )
        return meta

    def op_restore(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Copy a verified backup (default: the latest) back onto every MariaDB host and verify it."""
        ctx.pause()
        ctx.check_injected()
        cluster = self._cluster(ctx)
        source = cluster[0]
        backups = source.backups()
        if not backups:
            raise core.LabError(f"no MariaDB backup on {source.host} to recover from")
        name = str(args.get("backup") or backups[-1]["name"])
        meta = self._verified_backup(ctx, source, name)
        chain = [(name, meta)]
        if meta.get("type") == "incremental":
            parent = meta.get("parent")
            if not parent:
                raise core.LabError(f"incremental backup {name} has no full parent")
            chain.insert(0, (str(parent), self._verified_backup(ctx, source, str(parent))))
        restored = []
        with core.locked(ctx.lab_root, "mariadb"):
            for hd in cluster:
                if not hd.root.is_dir():
                    continue
                # The full backup first, then the increment, as mariabackup --prepare applies them.
                for each, each_meta in chain:
                    _copy_verified(source.backup_dir / each / "ibdata1", hd.data_file, each_meta["sha256"])
                restored.append(hd.host)
        return {
            "changed": True,
            "backup": name,
            "chain": [each for each, _ in chain],
            "sha256": meta["sha256"],
            "hosts": restored,
        }
