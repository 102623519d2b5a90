"""Base class of the lab action plugins: the per-task context and failure injection.

The lab's plugins run on the controller (inside ansible-playbook's worker processes) and act on
the host's directory directly, which is what makes a thousand-event playbook take seconds: no
module is shipped or spawned for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.ferry.lab.plugins.module_utils import labcore as core


class Context:
    """What every lab operation needs: where the host lives, which action runs, what to fail."""

    def __init__(self, action: ActionBase, task_vars: dict[str, Any]) -> None:
        templar = action._templar

        def var(name: str, default: Any = None) -> Any:
            if name not in task_vars:
                return default
            return core.plain(templar.template(task_vars[name]))

        lab_root = var("lab_root")
        if not lab_root:
            raise core.LabError("lab_root is not set: the lab playbooks need it as an extra variable")
        self.task_vars = task_vars
        self.lab_root = Path(lab_root)
        # A delegated task (kolla's run_once bootstraps) acts on the host it is delegated to.
        self.host = str(action._task.delegate_to or task_vars["inventory_hostname"])
        self.hd = core.HostDir(self.lab_root, self.host)
        self.action = str(var("lab_action", "") or "")
        self.groups: dict[str, list[str]] = core.plain(task_vars.get("groups", {}))
        self.var = var
        fail = var("lab_fail", {}) or {}
        self.injected = [str(x) for x in fail.get(self.host, [])] if isinstance(fail, dict) else []
        self.item_delay = float(var("lab_item_delay", 0) or 0)

    def check_injected(self, service: str | None = None) -> None:
        """Fail like a real task would when ``lab_fail`` names this host for this action (or service)."""
        wanted = {self.action}
        if service:
            wanted.add(f"{self.action}:{service}")
        if wanted & set(self.injected):
            what = f"{self.action} of {service}" if service else self.action
            raise core.LabError(f"{what} failed on {self.host} (failure injected by lab_fail)")

    def pause(self) -> None:
        """Sleep ``lab_item_delay`` seconds, to make runs watchable in demos."""
        if self.item_delay > 0:
            time.sleep(self.item_delay)

    def mariadb_hosts(self) -> list[str]:
        """Hosts of the MariaDB cluster, primary first."""
        return core.mariadb_hosts(self.groups)


class LabAction(ActionBase):
    """Dispatches ``op`` (or ``action`` for kolla_container) to a method ``op_<name>``.

    A method returns the result fields; raising ``LabError`` fails the task with its message.
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    OP_ARG = "op"

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the requested operation for this host."""
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = core.plain(dict(self._task.args))
        op = str(args.pop(self.OP_ARG, "") or "").replace("-", "_")
        handler: Callable[[Context, dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{op}", None)
        if handler is None:
            result.update(failed=True, msg=f"{self._task.action}: unknown {self.OP_ARG} {op!r}")
            return result
        try:
            ctx = Context(self, task_vars)
            result.setdefault("changed", False)
            result.update(handler(ctx, args) or {})
        except core.LabError as exc:
            result.update(failed=True, msg=str(exc))
        return result
