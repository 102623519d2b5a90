"""Synthetic ansible-runner events shaped like the lab's: a play of tasks, each task run on every host."""

from __future__ import annotations

import datetime
import uuid
from collections import Counter, defaultdict
from typing import Any

PROJECTS = ["mariadb", "rabbitmq", "keystone", "glance", "placement", "nova", "neutron", "horizon"]
SKIP_REASON = "Conditional result was False"
GREEN, YELLOW, CYAN, RESET = "\x1b[0;32m", "\x1b[0;33m", "\x1b[0;36m", "\x1b[0m"
# What the sink counts per host (apps.jobs.sink.TASK_EVENTS).
OUTCOMES = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


def _uuid(n: int) -> str:
    return str(uuid.UUID(int=n))


def make_events(count: int, hosts: int = 50) -> list[dict[str, Any]]:
    """``count`` events, counters 1..count, about 1 KB each as JSON; the last one is playbook_on_stats."""
    names = [f"cmp{i:03d}" for i in range(1, hosts + 1)]
    ident = uuid.uuid4().hex
    playbook = "/srv/ferry/runner/lab/site.yml"
    playbook_uuid = str(uuid.uuid4())
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    events: list[dict[str, Any]] = []
    line = 0
    play = task = ""
    play_uuid = task_uuid = ""

    def add(kind: str, stdout: str, data: dict[str, Any], parent: str = "") -> None:
        nonlocal line
        counter = len(events) + 1
        lines = stdout.count("\n") + 1 if stdout else 0
        own = _uuid(counter)
        event_data = {
            "playbook": playbook,
            "playbook_uuid": playbook_uuid,
            **({"play": play, "play_uuid": play_uuid, "play_pattern": "all"} if play else {}),
            **data,
            "uuid": own,
        }
        events.append(
            {
                "uuid": own,
                "counter": counter,
                "stdout": stdout,
                "start_line": line,
                "end_line": line + lines,
                "runner_ident": ident,
                "event": kind,
                "pid": 4242,
                "created": (start + datetime.timedelta(microseconds=700 * counter)).isoformat(),
                "parent_uuid": parent,
                "event_data": event_data,
            }
        )
        line += lines

    add("playbook_on_start", "", {})
    task_no = 0
    while len(events) < count - 1:
        project = PROJECTS[task_no // 4 % len(PROJECTS)]
        if task_no % 4 == 0:
            play = f"Apply role {project}"
            play_uuid = _uuid(10**12 + task_no)
            add("playbook_on_play_start", f"\r\nPLAY [{play}] " + "*" * 60, {"name": play})
        task_no += 1
        task = f"{project} : Checking {project} containers ({task_no})"
        task_uuid = _uuid(10**13 + task_no)
        task_fields = {
            "task": task,
            "task_uuid": task_uuid,
            "task_action": "kolla_container",
            "resolved_action": "kolla_container",
            "task_args": "",
            "task_path": f"/srv/ferry/runner/lab/tasks/check.yml:{task_no % 40 + 2}",
            "role": project,
        }
        banner = f"\r\nTASK [{task}] " + "*" * 60
        add("playbook_on_task_start", banner, {**task_fields, "is_conditional": False})
        for index, host in enumerate(names):
            if len(events) >= count - 1:
                break
            add("runner_on_start", "", {**task_fields, "host": host}, parent=task_uuid)
            if len(events) >= count - 1:
                break
            if (task_no + index) % 17 == 0:
                add(
                    "runner_on_skipped",
                    f"{CYAN}skipping: [{host}]{RESET}",
                    {**task_fields, "host": host, "res": {"changed": False, "skip_reason": SKIP_REASON}},
                    parent=task_uuid,
                )
                continue
            changed = (task_no * 7 + index) % 5 == 0
            res = {
                "changed": changed,
                "container": {
                    "name": f"{project}_api",
                    "image": f"quay.io/openstack.kolla/{project}-api:2025.1-rocky-9",
                    "state": "running",
                    "restarts": 0,
                    "config_checksum": f"{(task_no * 1_000_003 + index):064x}",
                },
                "_ansible_no_log": False,
            }
            word, colour = ("changed", YELLOW) if changed else ("ok", GREEN)
            add(
                "runner_on_ok",
                f"{colour}{word}: [{host}]{RESET}",
                {
                    **task_fields,
                    "host": host,
                    "remote_addr": host,
                    "res": res,
                    "start": "2025-01-01T00:00:00.000000+00:00",
                    "end": "2025-01-01T00:00:00.085908+00:00",
                    "duration": 0.085908,
                    "event_loop": None,
                },
                parent=task_uuid,
            )
    play = ""
    add("playbook_on_stats", "\r\nPLAY RECAP " + "*" * 60, {"ok": {h: 1 for h in names}, "changed": {}})
    return events


def expected_totals(events: list[dict[str, Any]]) -> dict[str, Counter]:
    """Host totals the sink should arrive at for ``events`` (ok, changed, skipped ... per host)."""
    totals: dict[str, Counter] = defaultdict(Counter)
    for raw in events:
        outcome = OUTCOMES.get(raw["event"])
        data = raw["event_data"]
        host = data.get("host") or data.get("remote_addr")
        if outcome and host:
            totals[host][outcome] += 1
            if outcome == "ok" and (data.get("res") or {}).get("changed"):
                totals[host]["changed"] += 1
    return totals
