"""Synthetic ansible-runner events shaped like a kolla-ansible run, for the live and replay benchmarks.

Per task over ``hosts`` hosts: one ``playbook_on_task_start`` (a two-line banner), then per host a
``runner_on_start`` (no stdout) and a ``runner_on_ok`` / ``runner_on_skipped`` with one coloured line
and an ``event_data.res`` of about 1 KB, as ansible-runner writes them: about half of the events
carry stdout, as in a real deploy.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

ROLES = ["common", "loadbalancer", "keystone", "glance", "nova", "nova-cell", "neutron", "placement"]
ACTIONS = ["template", "copy", "file", "kolla_container", "kolla_toolbox", "become", "include_tasks"]
GREEN, YELLOW, CYAN, RESET = "\x1b[0;32m", "\x1b[0;33m", "\x1b[0;36m", "\x1b[0m"


def host_names(count: int) -> list[str]:
    """3 controllers, 2 network nodes, the rest computes."""
    names = [f"ctl{i:02d}" for i in range(1, 4)] + ["net01", "net02"]
    names += [f"cmp{i:03d}" for i in range(1, count - len(names) + 1)]
    return names[:count]


def now_iso() -> str:
    """Now in UTC, ISO format with microseconds, as the ``created`` field carries it."""
    return datetime.now(UTC).isoformat()


def stream(hosts: int = 50, *, created_from: datetime | None = None) -> Iterator[dict[str, Any]]:
    """An endless stream of events, counters from 1.

    ``created`` is 1 ms apart from ``created_from`` when given, else None for the caller to stamp.
    """
    names = host_names(hosts)
    runner_ident = uuid.uuid4().hex
    playbook_uuid = str(uuid.uuid4())
    play_uuid = str(uuid.uuid4())
    counter, line = 1, 0
    for task_no in itertools.count():
        role = ROLES[task_no % len(ROLES)]
        task = f"{role} : Copying over {role}.conf for services ({task_no})"
        task_uuid = str(uuid.uuid4())
        common = {
            "playbook": "site.yml",
            "playbook_uuid": playbook_uuid,
            "play": f"Apply role {role}",
            "play_uuid": play_uuid,
            "play_pattern": role,
            "task": task,
            "task_uuid": task_uuid,
            "task_action": ACTIONS[task_no % len(ACTIONS)],
            "task_args": "",
            "task_path": f"/opt/kolla-ansible/ansible/roles/{role}/tasks/config.yml:{40 + task_no % 200}",
            "role": role,
        }
        banner = f"\r\nTASK [{task}] " + "*" * max(3, 70 - len(task))
        yield _event(counter, "playbook_on_task_start", banner, line, 2, common, runner_ident, created_from)
        counter, line = counter + 1, line + 2
        for h in names:
            data = {**common, "host": h, "remote_addr": h}
            yield _event(counter, "runner_on_start", "", line, 0, data, runner_ident, created_from)
            counter += 1
            if (task_no + len(h) + counter) % 7 == 0:
                kind, stdout = "runner_on_skipped", f"{CYAN}skipping: [{h}]{RESET}"
                res: dict[str, Any] = {"changed": False, "skip_reason": "Conditional result was False"}
            else:
                changed = (task_no + counter) % 3 == 0
                colour, word = (YELLOW, "changed") if changed else (GREEN, "ok")
                kind, stdout = "runner_on_ok", f"{colour}{word}: [{h}] => (item={role}-api){RESET}"
                res = _result(role, changed)
            full = {**data, "res": res, "start": "2025-05-01T10:00:00.000001", "duration": 0.2}
            yield _event(counter, kind, stdout, line, 1, full, runner_ident, created_from)
            counter, line = counter + 1, line + 1


def _result(role: str, changed: bool) -> dict[str, Any]:
    return {
        "changed": changed,
        "checksum": "6e1c2cdb4a6c9d2f0b7a4b6e8c9a4d7f2e1b3c5d",
        "dest": f"/etc/kolla/{role}-api/{role}.conf",
        "gid": 0,
        "group": "root",
        "mode": "0660",
        "owner": "root",
        "size": 4312,
        "state": "file",
        "uid": 0,
        "item": {"key": f"{role}-api", "value": {"container_name": f"{role}_api", "enabled": True}},
        "invocation": {
            "module_args": {
                "src": f"/opt/kolla-ansible/ansible/roles/{role}/templates/{role}.conf.j2",
                "dest": f"/etc/kolla/{role}-api/{role}.conf",
                "mode": "0660",
                "backup": False,
                "force": True,
                "follow": False,
                "validate": None,
            }
        },
        "_ansible_no_log": False,
        "_ansible_item_label": f"{role}-api",
    }


def _event(counter, kind, stdout, line, lines, data, runner_ident, created_from) -> dict[str, Any]:
    created = (created_from + timedelta(milliseconds=counter)).isoformat() if created_from else None
    return {
        "uuid": str(uuid.uuid4()),
        "counter": counter,
        "stdout": stdout,
        "start_line": line,
        "end_line": line + lines,
        "runner_ident": runner_ident,
        "event": kind,
        "pid": 4242,
        "created": created,
        "parent_uuid": data.get("task_uuid", ""),
        "event_data": dict(data),
    }
