"""The plan preview: what a job will do, step by step, before anything runs.

The same JSON comes from ``manage.py plan``, ``GET /api/clouds/{slug}/plan/`` and the launch page.
Its ``hash`` covers the steps and the revision of the cloud's inventory and globals, so the same
cloud state gives the same plan and hash, and any change to what the plan depends on changes it.
"""

from __future__ import annotations

import statistics
from typing import Any

from django.db.models import Count

from apps.clouds.models import Cloud
from apps.clouds.services import config_revision
from apps.jobs.models import Step, StepState
from apps.jobs.services import build_plan, job_warnings
from runner.backends import FERRY_ACTIONS, FERRY_PLAYBOOK_DIR
from runner.kolla import cli_command
from runner.planner import INTERNAL_ACTIONS, KINDS, PlannedStep, plan_hash

HISTORY = 50  # past runs of an action that its estimate reads


def plan_preview(cloud: Cloud, kind: str, params: dict[str, Any], backend: str = "lab") -> dict[str, Any]:
    """The plan of ``kind`` on ``cloud`` as JSON.

    A ValidationError naming the field if it cannot be planned.
    """
    cleaned, steps = build_plan(cloud, kind, params, backend)
    current = cloud.release.series if cloud.release_id else None
    target = cleaned.get("target_release") or cleaned.get("release") or current
    hops, here = [], current
    for step in steps:
        if KINDS[kind].moves_release and step.completes_release:
            hops.append({"from": here, "to": step.completes_release})
            here = step.completes_release
    rendered = [_step_json(s) for s in steps]
    digest = plan_hash(rendered, config_revision(cloud))
    return {
        "cloud": cloud.slug,
        "kind": kind,
        "params": cleaned,
        "from": current,
        "to": target,
        "hops": hops,
        "steps": rendered,
        "hash": digest,
        "estimated_seconds": estimate_seconds(cloud, steps),
        "warnings": job_warnings(cloud, kind, cleaned, backend),
    }


def steps_hash(cloud: Cloud, steps: list[PlannedStep]) -> str:
    """The hash ``plan_preview`` shows for ``steps`` planned on ``cloud`` as it is now: what an
    approval is bound to (apps.approvals)."""
    return plan_hash([_step_json(s) for s in steps], config_revision(cloud))


def _step_json(step: PlannedStep) -> dict[str, Any]:
    variables = {**step.extra_vars, **step.user_vars}
    playbook = FERRY_ACTIONS.get(step.action)
    return {
        "name": step.name,
        "action": step.action,
        "playbook": step.playbook,
        "limit": step.limit,
        "tags": step.tags,
        "extra_vars": variables,
        # Ferry's own steps that run no playbook have no command line.
        "command": ""
        if step.action in INTERNAL_ACTIONS
        else cli_command(
            step.action,
            extra_vars=variables,
            limit=step.limit,
            tags=step.tags,
            ferry_playbook=f"runner/{FERRY_PLAYBOOK_DIR.name}/{playbook}" if playbook else None,
        ),
        "gate": step.gate,
    }


def estimate_seconds(cloud: Cloud, steps: list[PlannedStep]) -> float | None:
    """The median of past runs of each step's action (with its tags): this cloud's first, else any
    cloud's scaled by host count. None when a step has no history: a partial sum would mislead.
    """
    hosts = max(cloud.hosts.count(), 1)
    total = 0.0
    for step in steps:
        own = _durations(Step.objects.filter(job__cloud=cloud), step)
        if own:
            total += statistics.median(own)
            continue
        scaled = [
            seconds * hosts / max(other_hosts, 1)
            for seconds, other_hosts in _durations(
                Step.objects.exclude(job__cloud=cloud), step, with_hosts=True
            )
        ]
        if not scaled:
            return None
        total += statistics.median(scaled)
    return round(total, 1)


def _durations(queryset, step: PlannedStep, *, with_hosts: bool = False) -> list:
    rows = (
        queryset.filter(
            action=step.action,
            tags=step.tags,
            state=StepState.SUCCEEDED,
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .order_by("-id")
        .values_list("started_at", "finished_at", "job__cloud_id")[:HISTORY]
    )
    durations = [((end - start).total_seconds(), cloud_id) for start, end, cloud_id in rows]
    if not with_hosts:
        return [seconds for seconds, _ in durations]
    counts = dict(
        Cloud.objects.filter(pk__in={c for _, c in durations})
        .annotate(n=Count("hosts"))
        .values_list("pk", "n")
    )
    return [(seconds, counts.get(cloud_id, 1)) for seconds, cloud_id in durations]
