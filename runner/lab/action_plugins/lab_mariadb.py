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
        # A new database holds no data of an older release: nothing for online migrations to move.
        "online_migrations": release,
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
            changed, blocked = [], {}
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
                # nova's schema of N+1 may drop what N's online data migrations move away from: nova
                # refuses the sync until they have finished (its blocker migrations), so does the lab.
                pending = core.online_migrations_pending(db) if core.is_nova_database(name) else None
                if pending:
                    blocked.setdefault(pending, []).append(name)
                    continue
                db["schema"] = release
                db.setdefault("migrations", []).append({"from": schema, "to": release, "at": core.now_iso()})
                changed.append(f"{name}: {schema} -> {release}")
            if blocked:
                # Nothing is written: not one database of the sync moves while another is refused.
                raise core.LabError(
                    f"nova-manage db sync to {release} refuses: "
                    + "; ".join(
                        f"the online data migrations of {pending} have not run on {', '.join(held)}: "
                        + core.online_migrations_advice(pending)
                        for pending, held in sorted(blocked.items())
                    )
                )
            if changed:
                self._replicate(cluster, data)
        return {
            "changed": bool(changed),
            "msg": "; ".join(changed) or "schemas up to date",
            "databases": {n: databases[n]["schema"] for n in names},
        }

    def op_archive_deleted_rows(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """``nova-manage db archive_deleted_rows --until-complete --all-cells``: move each nova cell
        database's soft-deleted rows to its shadow tables (``shadow_rows``); ``purge`` empties those."""
        purge = bool(args.get("purge"))
        ctx.pause()
        ctx.check_injected("nova")
        with core.locked(ctx.lab_root, "mariadb"):
            cluster, data = self._primary_data(ctx)
            archived = {}
            for name, db in sorted((data.get("databases") or {}).items()):
                if not name.startswith("nova") or name == "nova_api":
                    continue
                moved = int(db.get("soft_deleted") or 0)
                if moved or (purge and db.get("shadow_rows")):
                    db["soft_deleted"] = 0
                    db["shadow_rows"] = 0 if purge else int(db.get("shadow_rows") or 0) + moved
                    archived[name] = moved
            if archived:
                self._replicate(cluster, data)
        return {"changed": bool(archived), "archived": archived, "msg": f"archived {archived or 'nothing'}"}

    def op_online_migrations(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Run the online data migrations of ``databases`` (or all named ``prefix*``) for ``release``.

        Only a database whose schema is ``release`` is migrated: release N's migrations move data into
        N's schema, so a database still at an older one (a cell not upgraded yet) keeps what it owes.
        """
        release = str(args["release"])
        ctx.pause()
        ctx.check_injected(args.get("service"))
        with core.locked(ctx.lab_root, "mariadb"):
            cluster, data = self._primary_data(ctx)
            databases = data.get("databases") or {}
            names = [str(n) for n in args.get("databases") or []]
            if args.get("prefix"):
                names += sorted(n for n in databases if n.startswith(str(args["prefix"])))
            changed, behind = [], []
            for name in names:
                db = databases.get(name)
                if not db:
                    continue
                if db.get("schema") != release:
                    behind.append(f"{name} (schema {db.get('schema')})")
                elif db.get("online_migrations") != release:
                    db["online_migrations"] = release
                    changed.append(name)
            if changed:
                self._replicate(cluster, data)
        result: dict[str, Any] = {"changed": bool(changed), "databases": changed}
        if behind:
            result["msg"] = f"not at {release}, left for after their schema migration: {', '.join(behind)}"
            result["skipped_databases"] = behind
        return result

    def op_backup(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Back up into ``volumes/mariadb_backup/<name>/``: ``ibdata1``, its sha256 and ``meta.json``.

        A full backup is a copy of the data file. An incremental one, as mariabackup's, holds only what
        changed since the backup before it (the full parent or the previous increment): the databases
        that differ and the names of those that are gone, so it restores only on top of its chain.
        """
        kind = str(args.get("type") or "full")
        if kind not in ("full", "incremental"):
            raise core.LabError(f"mariadb_backup_type must be full or incremental, not {kind!r}")
        ctx.pause()
        ctx.check_injected()
        parent, chain = None, []
        if kind == "incremental":
            backups = ctx.hd.backups()
            fulls = [i for i, b in enumerate(backups) if b.get("type") == "full"]
            if not fulls:
                raise core.LabError(f"no full backup on {ctx.host} to base an incremental backup on")
            since = backups[fulls[-1] :]
            chain = [since[0]["name"], *(b["name"] for b in since[1:] if b.get("type") == "incremental")]
            parent = chain[0]
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"mysqlbackup-{stamp}-{kind}"
        target = ctx.hd.backup_dir / name
        with core.locked(ctx.lab_root, "mariadb"):
            if not ctx.hd.data_file.exists():
                raise core.LabError(f"no MariaDB data on {ctx.host} to back up")
            data = core.read_json(ctx.hd.data_file) or {}
            if kind == "full":
                sha256 = core.sha256_file(ctx.hd.data_file)
                _copy_verified(ctx.hd.data_file, target / "ibdata1", sha256)
            else:
                base = _prepared([ctx.hd.backup_dir / each / "ibdata1" for each in chain], chain)
                core.write_json(target / "ibdata1", _increment(base, data, chain[-1]))
                sha256 = core.sha256_file(target / "ibdata1")
        (target / "ibdata1.sha256").write_text(f"{sha256}  ibdata1\n")
        meta = {
            "type": kind,
            "parent": parent,
            "base": chain[-1] if chain else None,
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

    def op_push(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Put backups from Ferry's store into this host's ``mariadb_backup`` volume, checked by sha256.

        ``chain`` lists them in order, each with ``name``, ``sha256`` (what Ferry recorded) and
        ``store`` (Ferry's copy: ``data`` and the node's ``meta.json``). A copy whose checksum is not
        the recorded one fails the task before anything is written to the host.
        """
        ctx.pause()
        ctx.check_injected()
        chain = _chain(args)
        for item in chain:
            store = Path(str(item["store"]))
            if not (store / "data").is_file():
                raise core.LabError(
                    f"Ferry's copy of backup #{item['id']} ({item['name']}) is missing from {store}"
                )
            got = core.sha256_file(store / "data")
            if got != item["sha256"]:
                raise core.LabError(
                    f"Ferry's copy of backup #{item['id']} ({item['name']}) has sha256 {got}, but Ferry "
                    f"recorded {item['sha256']}: it is damaged, restore another backup"
                )
        pushed = []
        for item in chain:
            store, target = Path(str(item["store"])), ctx.hd.backup_dir / item["name"]
            _copy_verified(store / "data", target / "ibdata1", item["sha256"])
            meta = core.read_json(store / "meta.json")
            if not isinstance(meta, dict):
                meta = {}
            meta = {k: v for k, v in meta.items() if k not in ("name", "node")}
            (target / "ibdata1.sha256").write_text(f"{item['sha256']}  ibdata1\n")
            core.write_json(target / "meta.json", {**meta, "type": item["kind"], "sha256": item["sha256"]})
            pushed.append(item["name"])
        return {"changed": True, "pushed": pushed}

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

    def op_extract(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """``mbstream -x``: unpack backup ``name`` into ``restore/<index>`` of the backup volume."""
        ctx.pause()
        ctx.check_injected()
        name, index = str(args["name"]), int(args["index"])
        meta = self._verified_backup(ctx, ctx.hd, name)
        restore = ctx.hd.backup_dir / RESTORE_DIR
        if index == 0:
            core.remove_tree(restore)
        _copy_verified(ctx.hd.backup_dir / name / "ibdata1", restore / str(index) / "ibdata1", meta["sha256"])
        core.write_json(restore / str(index) / "backup.json", {"name": name, "type": meta.get("type")})
        return {"changed": True, "backup": name, "dir": str(restore / str(index))}

    def op_prepare(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """``mariabackup --prepare``: ready ``restore/0``, or apply ``restore/<incremental>`` to it."""
        ctx.pause()
        ctx.check_injected()
        restore = ctx.hd.backup_dir / RESTORE_DIR
        full = restore / "0"
        index = int(args.get("incremental") or 0)
        checkpoints = full / "checkpoints.json"
        if index == 0:
            data = core.read_json(full / "ibdata1")
            if not isinstance(data, dict) or "incremental" in data:
                raise core.LabError(f"{full} holds no full backup to prepare")
            core.write_json(checkpoints, {"applied": [core.read_json(full / "backup.json")["name"]]})
            return {"changed": True, "prepared": str(full)}
        applied = (core.read_json(checkpoints) or {}).get("applied")
        if not applied:
            raise core.LabError(f"prepare the full backup in {full} before applying an increment")
        name = core.read_json(restore / str(index) / "backup.json")["name"]
        data = _prepared([full / "ibdata1", restore / str(index) / "ibdata1"], [applied[-1], name])
        core.write_json(full / "ibdata1", data)
        core.write_json(checkpoints, {"applied": [*applied, name]})
        return {"changed": True, "applied": name, "on": applied[-1]}

    def op_copy_back(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Empty this host's datadir and ``mariabackup --copy-back`` the prepared backup into it."""
        ctx.pause()
        ctx.check_injected()
        full = ctx.hd.backup_dir / RESTORE_DIR / "0"
        applied = (core.read_json(full / "checkpoints.json") or {}).get("applied")
        if not applied:
            raise core.LabError(f"{full} holds no prepared backup to copy back")
        with core.locked(ctx.lab_root, "mariadb"):
            running = [
                hd.host
                for hd in self._cluster(ctx)
                if (core.read_json(hd.container_file("mariadb")) or {}).get("state") == "running"
            ]
            if running:
                raise core.LabError(f"MariaDB runs on {', '.join(running)}: stop it on every host first")
            core.remove_tree(ctx.hd.data_file.parent)
            data = core.read_json(full / "ibdata1")
            data["restored"] = {"chain": applied, "at": core.now_iso()}
            core.write_json(ctx.hd.data_file, data)
        core.remove_tree(full.parent)
        return {"changed": True, "restored": applied, "sha256": core.sha256_file(ctx.hd.data_file)}

    def op_recover(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """kolla's mariadb recovery of a stopped cluster: bootstrap it from one host, the others join.

        The host is ``mariadb_recover_inventory_name`` when given, else the one whose data is furthest
        along (highest ``seq``), as kolla picks the highest Galera seqno. Joiners take its data (SST).
        Nothing is restored from a backup here.
        """
        ctx.pause()
        ctx.check_injected()
        cluster = [hd for hd in self._cluster(ctx) if hd.root.is_dir()]
        wanted = str(args.get("host") or "")
        with core.locked(ctx.lab_root, "mariadb"):
            with_data = [hd for hd in cluster if hd.data_file.exists()]
            if wanted:
                source = next((hd for hd in cluster if hd.host == wanted), None)
                if source is None:
                    raise core.LabError(f"{wanted} is not a MariaDB host of this cluster")
                if not source.data_file.exists():
                    raise core.LabError(f"MariaDB on {wanted} has no data to bootstrap the cluster from")
            elif with_data:
                source = max(with_data, key=_seq)
            else:
                raise core.LabError("no MariaDB host has data to bootstrap the cluster from")
            sha256 = core.sha256_file(source.data_file)
            for hd in cluster:
                if hd is not source:
                    _copy_verified(source.data_file, hd.data_file, sha256)
        return {"changed": True, "bootstrap_host": source.host, "sha256": sha256}


RESTORE_DIR = "restore"


def _seq(hd: Any) -> int:
    return int((core.read_json(hd.data_file) or {}).get("seq") or 0)


def _chain(args: dict[str, Any]) -> list[dict[str, Any]]:
    chain = args.get("chain")
    if not isinstance(chain, list) or not chain:
        raise core.LabError("chain: the backups to restore, a full one first, are missing")
    for item in chain:
        name = str(item.get("name") or "")
        if not name or "/" in name or name.startswith(".") or name == RESTORE_DIR:
            raise core.LabError(f"backup #{item.get('id')} has a name that is not a plain file name")
    return chain


def _increment(base: dict[str, Any], data: dict[str, Any], base_name: str) -> dict[str, Any]:
    """What changed from ``base`` to ``data``: the databases that differ, the names of those gone."""
    old, new = base.get("databases") or {}, data.get("databases") or {}
    return {
        "format": 1,
        "incremental": {"base": base_name},
        "seq": data.get("seq", 0),
        "changed": {name: db for name, db in new.items() if old.get(name) != db},
        "removed": sorted(name for name in old if name not in new),
    }


def _prepared(files: list[Path], names: list[str]) -> dict[str, Any]:
    """A full backup's data with each increment applied in order; each must follow the one before."""
    data = core.read_json(files[0])
    if not isinstance(data, dict) or "incremental" in data:
        raise core.LabError(f"{names[0]} is not a full backup")
    for path, name, previous in zip(files[1:], names[1:], names, strict=False):
        increment = core.read_json(path)
        if not isinstance(increment, dict) or "incremental" not in increment:
            raise core.LabError(f"{name} is not an incremental backup")
        base = increment["incremental"].get("base")
        if base != previous:
            raise core.LabError(f"increment {name} applies on top of {base}, not on {previous}")
        databases = dict(data.get("databases") or {})
        databases.update(increment.get("changed") or {})
        for gone in increment.get("removed") or []:
            databases.pop(gone, None)
        data = {**data, "databases": databases, "seq": increment.get("seq", data.get("seq", 0))}
    return data
