"""kolla_container: the lab's stand-in for kolla's module of that name, one JSON file per container."""

from __future__ import annotations

from typing import Any

from ansible_collections.ferry.lab.plugins.module_utils import labaction
from ansible_collections.ferry.lab.plugins.module_utils import labcore as core


class ActionModule(labaction.LabAction):
    """Container operations; ``action`` selects one, as in kolla's kolla_container module."""

    OP_ARG = "action"

    def _require_engine(self, ctx: Any) -> None:
        if not (core.read_json(ctx.hd.host_file, {}) or {}).get("bootstrapped"):
            raise core.LabError(f"{ctx.host} has no container engine: run bootstrap-servers first")

    @staticmethod
    def _summary(container: dict[str, Any]) -> dict[str, Any]:
        return {k: container.get(k) for k in ("name", "image", "tag", "state", "restarts", "stops")}

    def op_pull_image(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Record the service's image as present on the host."""
        ctx.pause()
        ctx.check_injected(args.get("name"))
        self._require_engine(ctx)
        ref = f"{args['image']}:{args['tag']}"
        images = core.read_json(ctx.hd.images_file, {}) or {}
        if ref in images:
            return {"changed": False, "image": ref}
        images[ref] = core.now_iso()
        core.write_json(ctx.hd.images_file, images)
        return {"changed": True, "image": ref}

    def op_precheck_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """A service-level precheck (kolla checks free ports and config here)."""
        ctx.pause()
        ctx.check_injected(args.get("name"))
        return {"changed": False}

    def op_recreate_or_restart_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Create the container, recreate it on a new image, restart it when its configuration changed."""
        name = str(args["name"])
        ctx.pause()
        ctx.check_injected(name)
        self._require_engine(ctx)
        image, tag = str(args["image"]), str(args["tag"])
        release = core.release_from_tag(tag)
        path = ctx.hd.container_file(name)
        current = core.read_json(path)
        if current and current.get("release") != release:
            self._check_release(ctx, name, str(current.get("release")), release)
        checksum = ctx.hd.config_checksum(name)
        now = core.now_iso()
        data_version = self._check_rabbitmq_data(ctx, name, current, release)
        if not current:
            container = {
                "name": name,
                "project": args.get("project"),
                "image": image,
                "tag": tag,
                "release": release,
                "state": "running",
                "config_checksum": checksum,
                "restarts": 0,
                "created": now,
                "updated": now,
            }
            msg = "created"
        else:
            container = dict(current)
            if (current.get("image"), current.get("tag")) != (image, tag):
                container.update(image=image, tag=tag, release=release, created=now)
                msg = f"recreated on {image}:{tag}"
            elif current.get("config_checksum") != checksum:
                msg = "restarted: configuration changed"
            elif current.get("state") != "running":
                msg = "started"
            else:
                return {"changed": False, "container": self._summary(current)}
            container.update(
                state="running",
                config_checksum=checksum,
                restarts=int(current.get("restarts", 0)) + 1,
                updated=now,
            )
        if data_version:
            container["data_version"] = data_version
        core.write_json(path, container)
        return {"changed": True, "msg": msg, "container": self._summary(container)}

    @staticmethod
    def _check_rabbitmq_data(ctx: Any, name: str, current: dict[str, Any] | None, release: str) -> str:
        """RabbitMQ refuses to start on data a newer RabbitMQ wrote (its feature flags): the version
        its data is at, or a LabError when the new image is older and the state was not reset."""
        if name != "rabbitmq":
            return ""
        new = core.rabbitmq_version(release)
        data = (current or {}).get("data_version")
        if data and core.version_key(new) < core.version_key(data):
            raise core.LabError(
                f"RabbitMQ {new} cannot start on {ctx.host}: its data was written by RabbitMQ {data} "
                "(feature flags it does not know); reset RabbitMQ's state first (rabbitmq-reset-state)"
            )
        return new

    def _check_release(self, ctx: Any, name: str, current: str, release: str) -> None:
        if ctx.action == "upgrade":
            problem = core.hop_problem(current, release)
            if problem:
                raise core.LabError(f"refusing to upgrade {name} on {ctx.host}: {problem}")
        elif ctx.action == "reconfigure":
            raise core.LabError(f"{name} on {ctx.host} runs {current}; reconfigure does not change releases")
        elif core.release_index(current) < core.release_index(release):
            raise core.LabError(f"{name} on {ctx.host} runs {current}: moving it to {release} needs upgrade")

    def op_start_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Start an existing container."""
        return self._set_state(ctx, str(args["name"]), "running")

    def op_stop_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Stop a container if it runs; a missing one is already stopped."""
        return self._set_state(ctx, str(args["name"]), "stopped", missing_ok=True)

    def _set_state(self, ctx: Any, name: str, state: str, missing_ok: bool = False) -> dict[str, Any]:
        ctx.pause()
        ctx.check_injected(name)
        path = ctx.hd.container_file(name)
        container = core.read_json(path)
        if not container:
            if missing_ok:
                return {"changed": False}
            raise core.LabError(f"container {name} does not exist on {ctx.host}")
        if container.get("state") == state:
            return {"changed": False, "container": self._summary(container)}
        container.update(state=state, updated=core.now_iso())
        if state == "stopped":
            container["stops"] = int(container.get("stops", 0)) + 1
        core.write_json(path, container)
        return {"changed": True, "container": self._summary(container)}

    def op_restart_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Restart a container (it must exist)."""
        name = str(args["name"])
        ctx.pause()
        ctx.check_injected(name)
        path = ctx.hd.container_file(name)
        container = core.read_json(path)
        if not container:
            raise core.LabError(f"container {name} does not exist on {ctx.host}")
        container.update(
            state="running",
            restarts=int(container.get("restarts", 0)) + 1,
            config_checksum=ctx.hd.config_checksum(name),
            updated=core.now_iso(),
        )
        core.write_json(path, container)
        return {"changed": True, "container": self._summary(container)}

    def op_remove_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Remove a container."""
        name = str(args["name"])
        ctx.pause()
        ctx.check_injected(name)
        return {"changed": core.remove_tree(ctx.hd.container_file(name))}

    def op_check_container(self, ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        """Fail unless the container runs the expected image and tag with its current configuration."""
        name = str(args["name"])
        ctx.pause()
        ctx.check_injected(name)
        container = core.read_json(ctx.hd.container_file(name))
        if not container:
            raise core.LabError(f"container {name} is missing on {ctx.host}")
        problems = []
        if container.get("state") != "running":
            problems.append(f"is {container.get('state')}")
        want = f"{args['image']}:{args['tag']}"
        have = f"{container.get('image')}:{container.get('tag')}"
        if have != want:
            problems.append(f"runs {have}, expected {want}")
        if container.get("config_checksum") != ctx.hd.config_checksum(name):
            problems.append("runs with an outdated configuration")
        if problems:
            raise core.LabError(f"container {name} on {ctx.host} " + "; ".join(problems))
        return {"changed": False, "container": self._summary(container)}
