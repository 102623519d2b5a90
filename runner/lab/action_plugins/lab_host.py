"""lab_host: host-level lab operations (facts, prechecks, bootstrap, health, destroy, post-deploy)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.ferry.lab.plugins.module_utils import labaction
from ansible_collections.ferry.lab.plugins.module_utils import labcore as core


class ActionModule(labaction.LabAction):
    """Host-level operations of the lab; ``op`` selects one."""

    _requires_connection = True

    def op_gather(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Reach the host and describe it: its services, groups to join, containers and release."""
        if not ctx.hd.root.is_dir():
            raise AnsibleConnectionFailure(f"lab host directory {ctx.hd.root} does not exist (host is down)")
        # Goes through the host's connection, so a host made unreachable is reported as such.
        self._low_level_execute_command("true", sudoable=False)

        services = core.host_services(
            ctx.host,
            ctx.groups,
            cell_conductor_group=ctx.var("nova_cell_conductor_group"),
            cell_novncproxy_group=ctx.var("nova_cell_novncproxy_group"),
        )
        projects = list(dict.fromkeys(s.project for s in services))
        registry = str(args.get("registry") or "").rstrip("/")
        default_tag = str(args.get("tag") or "")
        # kolla's per-service tag variables (nova_libvirt_tag ...) default to the project's (nova_tag),
        # which default to openstack_tag.
        project_tags = {p: str(ctx.var(f"{p}_tag") or default_tag) for p in projects}
        tags = {s.name: str(ctx.var(f"{s.container}_tag") or project_tags[s.project]) for s in services}
        groups = [f"lab_project_{p}" for p in projects]
        db_hosts = ctx.mariadb_hosts()
        if ctx.host in db_hosts:
            groups.append("lab_mariadb")
            if ctx.host == db_hosts[0]:
                groups.append("lab_mariadb_primary")
        deployment = ctx.groups.get("deployment") or ctx.groups.get("control") or []
        if deployment and deployment[0] == ctx.host:
            groups.append("lab_post_deploy")
        containers = ctx.hd.containers()
        releases = core.container_releases(containers)
        health = ctx.hd.health() or {}
        target = str(args.get("target_release") or "")
        if target and ctx.action in ("upgrade", "deploy"):
            self._check_release_change(ctx, releases, target, db_hosts)
        elif target and ctx.action == "reconfigure":
            # Per container: one whose tag variable pins another release's image (nova_libvirt_tag
            # after a rollback) keeps it; any other must already run the release of its image.
            wanted = {s.name: core.release_from_tag(tags[s.name]) for s in services}
            other = sorted(
                (name, c.get("release"))
                for name, c in containers.items()
                if name in wanted and c.get("release") != wanted[name]
            )
            if other:
                name, running = other[0]
                raise core.LabError(
                    f"{name} on {ctx.host} runs {running} but openstack_release is {target} "
                    f"(its image: {wanted[name]}): reconfigure keeps the release (use upgrade)"
                )
        return {
            "ansible_facts": {
                "lab_host_services": [
                    {
                        "name": s.name,
                        "project": s.project,
                        "image": f"{registry}/{s.image}" if registry else s.image,
                        "tag": tags[s.name],
                        "container": s.container,
                        "stage": s.stage,
                        "conf": s.conf,
                    }
                    for s in services
                ],
                "lab_host_projects": projects,
                "lab_host_groups": groups,
                "lab_host_containers": sorted(containers),
                "lab_host_release": releases[0] if releases else None,
                "lab_host_health": health.get("status"),
                "lab_nova_cell_database": core.cell_database(ctx.var("nova_cell_name")),
                "lab_databases": {p: list(dbs) for p, dbs in core.PROJECT_DATABASES.items()},
                "lab_bootstrap_hosts": core.bootstrap_hosts(ctx.groups),
            }
        }

    def _check_release_change(self, ctx: Any, releases: list[str], target: str, db_hosts: list[str]) -> None:
        core.release_index(target)
        if ctx.action == "upgrade":
            for current in releases:
                problem = core.hop_problem(current, target)
                if problem:
                    raise core.LabError(f"refusing to upgrade {ctx.host}: {problem}")
        elif ctx.action in ("deploy", "prechecks"):
            older = [r for r in releases if core.release_index(r) < core.release_index(target)]
            if older and ctx.action == "deploy":
                raise core.LabError(
                    f"{ctx.host} runs {older[0]}; deploying {target} over it is an upgrade: run upgrade"
                )
            for current in older:
                problem = core.hop_problem(current, target)
                if problem:
                    raise core.LabError(f"{ctx.host}: {problem}")
            if any(core.release_index(r) > core.release_index(target) for r in releases):
                self._check_database_not_newer(ctx, target, db_hosts)

    def _check_database_not_newer(self, ctx: Any, target: str, db_hosts: list[str]) -> None:
        if not db_hosts:
            return
        data = core.read_json(core.HostDir(ctx.lab_root, db_hosts[0]).data_file) or {}
        for name, db in sorted((data.get("databases") or {}).items()):
            schema = db.get("schema")
            if schema in core.SERIES and core.release_index(schema) > core.release_index(target):
                raise core.LabError(
                    f"database {name} has schema {schema}, newer than {target}: downgrades do not exist, "
                    f"restore a backup taken at {target} before deploying it"
                )

    def op_precheck(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """The host-level prechecks: bootstrapped, healthy, and a legal release change."""
        ctx.pause()
        ctx.check_injected()
        host_info = core.read_json(ctx.hd.host_file, {}) or {}
        if not host_info.get("bootstrapped"):
            raise core.LabError(f"{ctx.host} has no container engine: run bootstrap-servers first")
        health = ctx.hd.health() or {}
        if health.get("status") not in (None, "healthy"):
            reason = health.get("reason") or "no reason recorded"
            raise core.LabError(f"{ctx.host} is {health.get('status')} ({reason}): repair it first")
        releases = core.container_releases(ctx.hd.containers())
        target = str(args.get("target_release") or "")
        if target:
            self._check_release_change(ctx, releases, target, ctx.mariadb_hosts())
        current = ", ".join(releases) or "nothing deployed"
        return {"msg": f"{ctx.host} passed prechecks ({current} -> {target})"}

    def op_rabbitmq_version_check(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """kolla's rabbitmq-version-check: a running RabbitMQ may not go back, nor skip versions.

        Like kolla, it compares only with a running container (kolla lists running ones only).
        """
        container = core.read_json(ctx.hd.container_file("rabbitmq")) or {}
        if container.get("state") != "running":
            return {"msg": f"no RabbitMQ running on {ctx.host}: nothing to compare"}
        current = core.rabbitmq_version(str(container.get("release")))
        new = core.rabbitmq_version(core.release_from_tag(str(args["tag"])))
        problem = core.rabbitmq_problem(current, new)
        if problem:
            raise core.LabError(problem)
        return {"msg": f"RabbitMQ version check successful: {current} -> {new}"}

    def op_libvirt_version_check(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """kolla's nova-libvirt-version-check: the image's libvirt may not be older than the running one."""
        container = core.read_json(ctx.hd.container_file("nova-libvirt")) or {}
        if container.get("state") != "running" or container.get("tag") == args["tag"]:
            return {"msg": f"nova_libvirt on {ctx.host} keeps its image: nothing to compare"}
        current = core.libvirt_version(str(container.get("release")))
        new = core.libvirt_version(core.release_from_tag(str(args["tag"])))
        problem = core.libvirt_problem(current, new)
        if problem:
            raise core.LabError(problem)
        return {"msg": f"Libvirt version check successful: target {new} >= current {current}."}

    def op_rabbitmq_reset_state(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """kolla's rabbitmq-reset-state: ``rabbitmqctl force_reset`` in the running container."""
        ctx.pause()
        ctx.check_injected("rabbitmq")
        path = ctx.hd.container_file("rabbitmq")
        container = core.read_json(path) or {}
        if container.get("state") != "running":
            raise core.LabError(f"rabbitmq is not running on {ctx.host}: rabbitmqctl cannot reset it")
        container.update(data_version=None, reset_at=core.now_iso(), updated=core.now_iso())
        core.write_json(path, container)
        return {"changed": True, "msg": f"RabbitMQ on {ctx.host} reset to its virgin state"}

    def op_package(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Install one package of bootstrap-servers (recorded in host.json)."""
        ctx.pause()
        ctx.check_injected()
        info = core.read_json(ctx.hd.host_file, {}) or {}
        packages = info.setdefault("packages", [])
        name = str(args["name"])
        if name in packages:
            return {"changed": False}
        packages.append(name)
        core.write_json(ctx.hd.host_file, info)
        return {"changed": True}

    def op_bootstrap(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Finish bootstrap-servers: the container engine is there and /etc/kolla exists."""
        ctx.check_injected()
        info = core.read_json(ctx.hd.host_file, {}) or {}
        wanted = {
            "bootstrapped": True,
            "container_engine": str(args.get("container_engine", "docker")),
            "distro": str(args.get("distro", "")),
        }
        changed = any(info.get(k) != v for k, v in wanted.items())
        if changed:
            info.update(wanted, bootstrapped_at=core.now_iso())
            core.write_json(ctx.hd.host_file, info)
        ctx.hd.kolla_dir.mkdir(parents=True, exist_ok=True)
        return {"changed": changed}

    def op_record(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Mark the host healthy after an action that left it running as configured."""
        health = ctx.hd.health() or {}
        if health.get("status") == "healthy":
            return {"changed": False}
        ctx.hd.set_health("healthy", f"{ctx.action} succeeded")
        return {"changed": True}

    def op_destroy(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Remove what destroy removes: containers, configuration, volumes, images, health."""
        ctx.check_injected()
        changed = False
        for path in (ctx.hd.containers_dir, ctx.hd.kolla_dir, ctx.hd.volumes_dir, ctx.hd.images_file):
            changed = core.remove_tree(path) or changed
        changed = core.remove_tree(ctx.hd.health_file) or changed
        return {"changed": changed}

    def op_post_deploy(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Write admin-openrc.sh and clouds.yaml, once keystone runs."""
        ctx.pause()
        ctx.check_injected()
        controls = ctx.groups.get("control") or []
        running = [
            h
            for h in controls
            if (core.read_json(core.HostDir(ctx.lab_root, h).container_file("keystone")) or {}).get("state")
            == "running"
        ]
        if not running:
            raise core.LabError("keystone is not running on any control host: deploy first")
        url = str(args["auth_url"])
        password = str(args["password"])
        region = str(args.get("region", "RegionOne"))
        openrc = (
            "# Ansible managed\n"
            "export OS_PROJECT_DOMAIN_NAME='Default'\nexport OS_USER_DOMAIN_NAME='Default'\n"
            "export OS_PROJECT_NAME='admin'\nexport OS_USERNAME='admin'\n"
            f"export OS_PASSWORD='{password}'\nexport OS_AUTH_URL='{url}'\n"
            f"export OS_REGION_NAME='{region}'\nexport OS_IDENTITY_API_VERSION='3'\n"
        )
        clouds = (
            "clouds:\n  kolla-admin:\n    auth:\n"
            f"      auth_url: {url}\n      username: admin\n      password: '{password}'\n"
            "      project_name: admin\n      domain_name: Default\n"
            f"    region_name: {region}\n"
        )
        changed = False
        for name, text in (("admin-openrc.sh", openrc), ("clouds.yaml", clouds)):
            path = ctx.hd.kolla_dir / name
            if not path.exists() or path.read_text() != text:
                core.write_text(path, text)
                changed = True
        return {"changed": changed, "files": [str(ctx.hd.kolla_dir / "admin-openrc.sh")]}
