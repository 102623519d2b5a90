"""The planner: turns (cloud, operation, target) into an ordered list of steps.

It is pure: it reads plain data and never changes state. The part that
decides is not trusted to act; only the runner acts, and only on a plan a
person has launched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class PlanError(ValueError):
    """The operation cannot be planned; the message says why and names the field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ReleaseInfo:
    """A release series as the planner needs it."""

    series: str
    slurp: bool


@dataclass(frozen=True)
class PlannedStep:
    """One ansible-runner invocation: a kolla-ansible action with its variables, limit and tags."""

    name: str
    action: str
    playbook: str
    extra_vars: dict[str, Any] = field(default_factory=dict)
    limit: str = ""
    tags: str = ""
    completes_release: str = ""  # the cloud runs this release once the step succeeds


# kolla-ansible actions and the playbook each one runs.
SITE_ACTIONS = {
    "prechecks",
    "pull",
    "deploy",
    "reconfigure",
    "upgrade",
    "check",
    "stop",
    "genconfig",
    "validate-config",
}
OTHER_PLAYBOOKS = {
    "bootstrap-servers": "kolla-host.yml",
    "post-deploy": "post-deploy.yml",
    "mariadb-backup": "mariadb-backup.yml",
    "mariadb-recovery": "mariadb-recovery.yml",
    "destroy": "destroy.yml",
}


def step(
    name: str,
    action: str,
    release: str | None,
    *,
    limit: str = "",
    tags: str = "",
    completes: str = "",
    **extra: Any,
) -> PlannedStep:
    """A step for a kolla-ansible ``action`` at ``release``.

    The action's own variables (``kolla_action``, ``kolla_serial``…) are the
    backend's business: it adds them exactly as kolla-ansible's CLI does.
    """
    extra_vars: dict[str, Any] = {}
    playbook = "site.yml" if action in SITE_ACTIONS else OTHER_PLAYBOOKS[action]
    if release:
        extra_vars["openstack_release"] = release
    extra_vars.update(extra)
    return PlannedStep(
        name=name,
        action=action,
        playbook=playbook,
        extra_vars=extra_vars,
        limit=limit,
        tags=tags,
        completes_release=completes,
    )


def legal_hops(releases: list[ReleaseInfo], current: str) -> list[str]:
    """Series reachable from ``current`` in one upgrade: the next one, or the next SLURP from a SLURP."""
    order = [r.series for r in releases]
    if current not in order:
        raise PlanError("release", f"unknown current release {current!r}")
    index = order.index(current)
    hops = [order[index + 1]] if index + 1 < len(order) else []
    if releases[index].slurp:
        next_slurp = next((r.series for r in releases[index + 1 :] if r.slurp), None)
        if next_slurp and next_slurp not in hops:
            hops.append(next_slurp)
    return hops


def upgrade_path(releases: list[ReleaseInfo], current: str, target: str) -> list[str]:
    """The fewest legal hops from ``current`` to ``target`` (SLURP skips where possible)."""
    order = [r.series for r in releases]
    if target not in order:
        raise PlanError("target_release", f"unknown release {target!r}")
    if current not in order:
        raise PlanError("release", f"the cloud's current release {current!r} is unknown")
    if order.index(target) <= order.index(current):
        raise PlanError(
            "target_release",
            f"{target} is not newer than the current {current}; downgrades do not exist "
            "(database migrations are one-way): restore a backup with a rollback instead",
        )
    path, here = [], current
    while here != target:
        hops = [h for h in legal_hops(releases, here) if order.index(h) <= order.index(target)]
        here = max(hops, key=order.index)
        path.append(here)
    return path


def upgrade_hop(target: str, backup_label: str) -> list[PlannedStep]:
    """Every step of one full upgrade to ``target``, as kolla's upgrade procedure lists them."""
    return [
        step(
            f"Back up config and database before {target}",
            "mariadb-backup",
            None,
            mariadb_backup_type="full",
            ferry_backup_label=backup_label,
            ferry_backup_config=True,
        ),
        step(f"Pull {target} images", "pull", target),
        step(f"Prechecks for {target}", "prechecks", target),
        step(f"Upgrade to {target}", "upgrade", target, completes=target),
        step(f"Post-deploy {target}", "post-deploy", target),
        step(f"Validate {target} configuration", "validate-config", target),
        step(f"Check services on {target}", "check", target),
    ]


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the kind of job, the cloud's facts and the job's parameters."""

    kind: str
    releases: list[ReleaseInfo]
    current_release: str | None
    cells: list[str] = field(default_factory=list)
    cell_groups: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def plan(request: PlanRequest) -> list[PlannedStep]:
    """The ordered steps of a job; a :class:`PlanError` naming the field if it cannot be planned."""
    kind, params, current = request.kind, request.params, request.current_release
    release = params.get("release") or current
    if kind in {"prechecks", "check", "pull", "reconfigure", "stop"}:
        _require(release, "release", f"{kind} needs the cloud's current release (it is not deployed yet)")
        names = {
            "prechecks": "Prechecks",
            "check": "Check services",
            "pull": "Pull images",
            "reconfigure": "Reconfigure",
            "stop": "Stop containers",
        }
        steps = [step(names[kind], kind, release)]
        if kind == "reconfigure":
            steps = [
                step("Prechecks", "prechecks", release),
                *steps,
                step("Check services", "check", release),
            ]
        return steps
    if kind == "deploy":
        _require(release, "release", "choose the release to deploy")
        if current and release != current:
            raise PlanError(
                "release", f"the cloud runs {current}; change releases with an upgrade, not a deploy"
            )
        return [
            step("Bootstrap servers", "bootstrap-servers", release),
            step("Prechecks", "prechecks", release),
            step("Pull images", "pull", release),
            step("Deploy", "deploy", release, completes=release),
            step("Post-deploy", "post-deploy", release),
            step("Check services", "check", release),
        ]
    if kind == "backup":
        backup_type = params.get("backup_type", "full")
        if backup_type not in {"full", "incremental"}:
            raise PlanError("backup_type", "must be full or incremental")
        label = params.get("label") or "manual"
        return [
            step(
                f"{backup_type.capitalize()} database backup",
                "mariadb-backup",
                None,
                mariadb_backup_type=backup_type,
                ferry_backup_label=label,
            )
        ]
    if kind == "restore":
        backup = _require(params.get("backup"), "backup", "choose the backup to restore")
        return [
            step("Stop database", "stop", release, tags="mariadb"),
            step(f"Restore database from {backup}", "mariadb-recovery", None, ferry_backup=backup),
            step("Check services", "check", release),
        ]
    if kind in {"upgrade", "ffu", "cell-rollout"}:
        _require(current, "release", "the cloud is not deployed yet: deploy it first")
        target = _require(params.get("target_release"), "target_release", "choose the release to upgrade to")
        path = upgrade_path(request.releases, current, target)
        if kind == "upgrade" and len(path) > 1:
            raise PlanError(
                "target_release",
                f"{current} → {target} is not a legal hop (next release, or next SLURP from a SLURP); "
                f"use a fast-forward upgrade through {' → '.join(path)}",
            )
        if kind == "cell-rollout":
            if len(path) > 1:
                raise PlanError(
                    "target_release", f"a cell rollout does one hop; {target} is {len(path)} hops away"
                )
            return _cell_rollout(request, current, target)
        steps: list[PlannedStep] = []
        for hop in path:
            steps += upgrade_hop(hop, backup_label=f"before-{hop}")
        return steps
    if kind == "rollback":
        backup = _require(params.get("backup"), "backup", "choose the pre-upgrade backup to go back to")
        previous = _require(params.get("release"), "release", "choose the release the backup was taken on")
        return [
            step("Stop every service", "stop", current or previous),
            step(f"Restore database from {backup}", "mariadb-recovery", None, ferry_backup=backup),
            step(f"Redeploy {previous}", "deploy", previous, completes=previous),
            step(f"Check services on {previous}", "check", previous),
        ]
    raise PlanError("kind", f"unknown job kind {kind!r}")


def _cell_rollout(request: PlanRequest, current: str, target: str) -> list[PlannedStep]:
    cells = list(request.cells)
    if not cells:
        raise PlanError("cells", "the cloud has no cells to roll out to; use an upgrade")
    canary = request.params.get("canary") or cells[0]
    if canary not in cells:
        raise PlanError("canary", f"unknown cell {canary!r}; cells are {', '.join(cells)}")
    order = [canary] + [c for c in cells if c != canary]
    steps = [
        step(
            f"Back up config and database before {target}",
            "mariadb-backup",
            None,
            mariadb_backup_type="full",
            ferry_backup_label=f"before-{target}",
            ferry_backup_config=True,
        ),
        step(f"Pull {target} images", "pull", target),
        step(f"Prechecks for {target}", "prechecks", target),
        step("Nova bootstrap", "upgrade", target, tags="nova-bootstrap"),
        step("Upgrade nova API level", "upgrade", target, tags="nova-api-upgrade"),
    ]
    for cell in order:
        label = "canary cell" if cell == canary else "cell"
        steps.append(
            step(
                f"Upgrade {label} {cell}",
                "upgrade",
                target,
                tags="nova-cell-upgrade",
                limit=request.cell_groups.get(cell, cell),
            )
        )
    steps += [
        step(
            "Reload nova and run online data migrations",
            "upgrade",
            target,
            tags="nova-reload,nova-online-data-migrations",
            completes=target,
        ),
        step(f"Post-deploy {target}", "post-deploy", target),
        step(f"Check services on {target}", "check", target),
    ]
    return steps


def _require(value: Any, field_name: str, message: str) -> Any:
    if not value:
        raise PlanError(field_name, message)
    return value
