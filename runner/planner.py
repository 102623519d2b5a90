"""The planner: turns (cloud, operation, target) into an ordered list of steps.

It is pure: it reads plain data and never changes state. The part that
decides is not trusted to act; only the runner acts, and only on a plan a
person has launched.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from runner.hops import MIGRATIONS, ON_CURRENT_RELEASE, HopPrep, hop_prep
from runner.params import BackupInfo, CloudFacts, Param, ParamError, ansible_bool, backup_chain, clean_params


class PlanError(ParamError):
    """The operation cannot be planned; the message says why and names the field."""


@dataclass(frozen=True)
class ReleaseInfo:
    """A release series as the planner needs it."""

    series: str
    slurp: bool
    status: str = "maintained"  # the series' phase today (openstack/releases' words, see the catalog)


# Phases a release must not be targeted in without a person saying they mean it.
UNRELEASED_OR_DEAD = {"future": "not released yet", "development": "in development", "eol": "end of life"}


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
    # Values a person chose (labels, backup names): Ansible gets them marked unsafe, never templated.
    user_vars: dict[str, Any] = field(default_factory=dict)
    # A gate: once this step succeeds the job waits for a person to continue or abort it.
    gate: bool = False


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
    "rabbitmq-reset-state": "rabbitmq-reset-state.yml",
    "destroy": "destroy.yml",
}
# Ferry's own actions, for what kolla-ansible has no command for: copy the newest backup off the
# database node into Ferry's backup store; put a chosen backup from that store back on the node;
# restore it there (extract, prepare, copy back) as kolla's backup-and-restore guide does by hand.
BACKUP_FETCH = "ferry-backup-fetch"
BACKUP_PUSH = "ferry-backup-push"
MARIADB_RESTORE = "ferry-mariadb-restore"
# Read-only checks before a maintenance (nova-status upgrade check, soft-deleted rows, Galera,
# RabbitMQ, disk, certificates, compute versions), and the archive of soft-deleted rows they ask for.
VALIDATE = "ferry-validate"
ARCHIVE = "ferry-archive-deleted-rows"
# A hop's preparation (runner/hops.py): install the target's kolla-ansible, run a named migration
# (its password merge is one of Ferry's own steps, below).
KOLLA_INSTALL = "ferry-kolla-install"
MIGRATE = "ferry-migrate"
FERRY_PLAYBOOK_ACTIONS = (
    BACKUP_FETCH,
    BACKUP_PUSH,
    MARIADB_RESTORE,
    VALIDATE,
    ARCHIVE,
    KOLLA_INSTALL,
    MIGRATE,
)
OTHER_PLAYBOOKS.update({action: f"{action}.yml" for action in FERRY_PLAYBOOK_ACTIONS})


# Ferry's own steps that run no playbook, on what Ferry stores of the cloud: the worker sets its
# configuration (globals.yml, passwords.yml, configuration files) back to what a backup archived
# with it; for a hop, it merges its passwords (keeps every secret, generates the plain passwords the
# target's kolla-genpwd adds, apps/clouds/passwords.py), which every later step hands kolla.
RESTORE_CONFIG = "ferry-restore-config"
MERGE_PASSWORDS = "ferry-merge-passwords"
INTERNAL_ACTIONS = frozenset({RESTORE_CONFIG, MERGE_PASSWORDS})


# How long a step's name may be (the jobs app stores it in a column of this size).
STEP_NAME_CHARS = 200


def fitted(head: str, names: list[str], limit: int = STEP_NAME_CHARS) -> str:
    """``head`` followed by as many of ``names`` as fit in ``limit`` characters, then how many more
    (the step's parameters and output name them all)."""
    for shown in range(len(names), 0, -1):
        rest = len(names) - shown
        text = head + ", ".join(names[:shown]) + (f" and {rest} more" if rest else "")
        if len(text) <= limit:
            return text
    return f"{head}{len(names)} keys"[:limit]


def step(
    name: str,
    action: str,
    release: str | None,
    *,
    limit: str = "",
    tags: str = "",
    completes: str = "",
    user: dict[str, Any] | None = None,
    **extra: Any,
) -> PlannedStep:
    """A step for a kolla-ansible ``action`` at ``release``.

    The action's own variables (``kolla_action``, ``kolla_serial``…) are the
    backend's business: it adds them exactly as kolla-ansible's CLI does.
    """
    extra_vars: dict[str, Any] = {}
    if action in INTERNAL_ACTIONS:
        playbook = ""
    else:
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
        user_vars=dict(user or {}),
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


# Defaults of the validations' thresholds; the validate kind takes them as parameters.
VALIDATION_DEFAULTS = {"soft_deleted_threshold": 1000, "min_free_gb": 20, "cert_warn_days": 30}


def compute_window(releases: list[ReleaseInfo], target: str) -> list[str]:
    """The releases a nova-compute may run while the control plane moves to ``target``: the target
    and every release one legal hop below it (N-1, or the previous SLURP when the target is one)."""
    order = [r.series for r in releases]
    below = [r for r in order[: order.index(target)] if target in legal_hops(releases, r)]
    return [*below, target]


def validation_steps(
    releases: list[ReleaseInfo], target: str, params: dict[str, Any] | None = None
) -> list[PlannedStep]:
    """The read-only validations that open every upgrade to ``target``, before its backup and before
    anything changes: a finding fails the step, so nothing of the upgrade runs."""
    values = {**VALIDATION_DEFAULTS, **{k: v for k, v in (params or {}).items() if k in VALIDATION_DEFAULTS}}
    return [
        step(
            f"Validate the cloud for {target}: nova-status upgrade check, soft-deleted rows, Galera, "
            "RabbitMQ, disk, certificates, compute versions",
            VALIDATE,
            target,
            ferry_validate_compute_releases=compute_window(releases, target),
            **{f"ferry_validate_{name}": value for name, value in values.items()},
        )
    ]


def upgrade_hop(
    request: PlanRequest, previous: str, target: str, params: dict[str, Any] | None = None
) -> list[PlannedStep]:
    """Every step of one full upgrade from ``previous`` to ``target``, as kolla's upgrade procedure
    lists them.

    The validations come first, then the hop's preparation (runner/hops.py), then pull, prechecks,
    the backup and the hop's migrations as ``before_upgrade`` orders them.
    """
    prep = hop_prep(previous, target)
    return [
        *validation_steps(request.releases, target, params),
        *preparation_steps(request, prep),
        *before_upgrade(prep),
        step(f"Upgrade to {target}", "upgrade", target, completes=target),
        step(f"Post-deploy {target}", "post-deploy", target),
        step(f"Validate {target} configuration", "validate-config", target),
        step(f"Check services on {target}", "check", target),
    ]


def before_upgrade(prep: HopPrep) -> list[PlannedStep]:
    """Pull, prechecks, the backup and the hop's migrations, in the order the hop allows.

    The backup comes right before the first step that changes anything, so that it holds what the
    upgrade starts from: after pull and prechecks, or, for a hop with migrations, before them and
    before the prechecks, which follow the migrations because the target's prechecks refuse what the
    migrations move (kolla-ansible 18 and 20 refuse queues that are not quorum queues).
    """
    target = prep.to_series
    pull = step(f"Pull {target} images", "pull", target)
    prechecks = step(f"Prechecks for {target}", "prechecks", target)
    backup = take_backup(
        "full", f"before-{target}", name=f"Back up config and database before {target}", config=True
    )
    migrations = migration_steps(prep)
    if migrations:
        return [pull, *backup, *migrations, prechecks]
    return [pull, prechecks, *backup]


def refuse_unprepared_globals(prep: HopPrep, cloud_globals: dict[str, Any]) -> None:
    """Refuse a hop whose target no longer reads a key the cloud's globals set, or removed a service
    they enable; the message names every such key and the release."""
    problems = []
    enabled = [key for key in prep.removed_services if ansible_bool(cloud_globals.get(key))]
    if enabled:
        problems.append(
            f"{prep.to_series} no longer deploys what {', '.join(enabled)} enable: turn "
            f"{'it' if len(enabled) == 1 else 'them'} off and remove the service first"
        )
    for key, advice in prep.removed_globals.items():
        if key in cloud_globals:
            renamed = advice.isidentifier()
            problems.append(
                f"{prep.to_series} renames {key} to {advice}: set {advice} instead"
                if renamed
                else f"{prep.to_series} no longer reads {key} ({advice})"
            )
    if problems:
        ready = f"globals.yml is not ready for {prep.to_series}: "
        raise PlanError("globals_yml", ready + "; ".join(problems))


def preparation_steps(request: PlanRequest, prep: HopPrep) -> list[PlannedStep]:
    """What a hop needs before its images are pulled: the target's kolla-ansible (the kolla-ansible
    backend only: the lab has none to install) and the passwords the target's kolla-genpwd adds."""
    refuse_unprepared_globals(prep, request.globals)
    target = prep.to_series
    steps = []
    if request.backend == "kolla-ansible" and prep.kolla_ansible:
        steps.append(
            step(
                f"Install kolla-ansible {prep.kolla_ansible} for {target}",
                KOLLA_INSTALL,
                target,
                ferry_kolla_ansible_major=prep.kolla_ansible,
            )
        )
    if prep.new_passwords:
        steps.append(
            step(
                fitted(
                    f"Merge passwords for {target}: keep every existing secret, generate ",
                    list(prep.new_passwords),
                ),
                MERGE_PASSWORDS,
                target,
                ferry_new_passwords=list(prep.new_passwords),
            )
        )
    return steps


def migration_steps(prep: HopPrep) -> list[PlannedStep]:
    """The hop's migrations, each its own step after the backup and before the prechecks. RabbitMQ's
    run on the release the cloud leaves (runner/hops.py ON_CURRENT_RELEASE: kolla's guide has them
    done on it, before the hop)."""
    steps = []
    for name in prep.migrations:
        release = prep.from_series if name in ON_CURRENT_RELEASE else prep.to_series
        steps.append(
            step(f"{MIGRATIONS[name]} before {prep.to_series}", MIGRATE, release, ferry_migration=name)
        )
    return steps


@dataclass(frozen=True)
class PlanRequest:
    """What to plan: the kind of job, the cloud's facts and the job's parameters."""

    kind: str
    releases: list[ReleaseInfo]
    current_release: str | None
    cells: list[str] = field(default_factory=list)
    cell_groups: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)
    backend: str = ""
    backups: list[BackupInfo] = field(default_factory=list)
    mariabackup: bool = False  # the cloud's globals turn enable_mariabackup on
    nova_safety_upgrade: bool = False  # the cloud's globals turn nova_safety_upgrade on
    globals: dict[str, Any] = field(default_factory=dict)  # the cloud's globals.yml, for a hop's checks

    def facts(self) -> CloudFacts:
        return CloudFacts(
            releases=[r.series for r in self.releases],
            cells=self.cells,
            hosts=self.hosts,
            backups={b.id: b for b in self.backups},
        )

    def backup(self, backup_id: int) -> BackupInfo:
        """The backup ``backup_id`` with its chain (an incremental's full parent and earlier increments)."""
        by_id = {b.id: b for b in self.backups}
        return backup_chain(by_id[backup_id], by_id)


def plan(request: PlanRequest) -> list[PlannedStep]:
    """The ordered steps of a job; a :class:`PlanError` naming the field if it cannot be planned."""
    return plan_job(request)[1]


def plan_job(request: PlanRequest) -> tuple[dict[str, Any], list[PlannedStep]]:
    """The job's cleaned parameters and its steps.

    The parameters are checked against the kind's declaration first, so the builders only see
    clean values.
    """
    params = clean_job_params(request)
    spec = kind_spec(request.kind)
    _check_target_status(request, params)
    steps = spec.build(request, params)
    if spec.needs_mariabackup and not request.mariabackup:
        raise PlanError(
            "enable_mariabackup",
            f"{spec.name} needs a database backup, and this cloud's globals.yml does not turn "
            "enable_mariabackup on (kolla's mariadb-backup then does nothing): "
            'set enable_mariabackup: "yes"',
        )
    return params, steps


def _check_target_status(request: PlanRequest, params: dict[str, Any]) -> None:
    """Refuse to target a release that is not out yet or out of life unless acknowledged."""
    field_name = "target_release" if "target_release" in params else "release"
    if not kind_spec(request.kind).targets_release or field_name not in params:
        return
    series = params[field_name]
    info = next((r for r in request.releases if r.series == series), None)
    if info is None or info.status not in UNRELEASED_OR_DEAD or params.get(ACKNOWLEDGE.name):
        return
    raise PlanError(
        field_name,
        f"{series} is {UNRELEASED_OR_DEAD[info.status]}: set {ACKNOWLEDGE.name} to target it anyway "
        "(the acknowledgement is recorded with the job)",
    )


def kind_spec(kind: str) -> KindSpec:
    """The declaration of ``kind``, or a :class:`PlanError` naming ``kind``."""
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise PlanError("kind", f"unknown job kind {str(kind)[:64]!r}; one of {', '.join(KINDS)}") from None


def clean_job_params(request: PlanRequest) -> dict[str, Any]:
    """The request's parameters checked against its kind's declaration and cleaned."""
    spec = kind_spec(request.kind)
    try:
        return clean_params(spec.params, request.params, request.facts(), request.backend)
    except ParamError as exc:
        raise PlanError(exc.field, exc.message) from None


def _single_action(name: str, action: str) -> Builder:
    def build(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
        release = _current_or_chosen(request, params, f"{action} needs the cloud's current release")
        return [step(name, action, release)]

    return build


def _current_or_chosen(request: PlanRequest, params: dict[str, Any], why: str) -> str:
    return _require(
        params.get("release") or request.current_release, "release", f"{why} (it is not deployed yet)"
    )


def _reconfigure(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    release = _current_or_chosen(request, params, "reconfigure needs the cloud's current release")
    return [
        step("Prechecks", "prechecks", release),
        step("Reconfigure", "reconfigure", release),
        step("Check services", "check", release),
    ]


def _deploy(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    current = request.current_release
    release = _require(params.get("release") or current, "release", "choose the release to deploy")
    if current and release != current:
        raise PlanError("release", f"the cloud runs {current}; change releases with an upgrade, not a deploy")
    return [
        step("Bootstrap servers", "bootstrap-servers", release),
        step("Prechecks", "prechecks", release),
        step("Pull images", "pull", release),
        step("Deploy", "deploy", release, completes=release),
        step("Post-deploy", "post-deploy", release),
        step("Check services", "check", release),
    ]


def _backup(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    backup_type = params["backup_type"]
    return take_backup(backup_type, params["label"], name=f"{backup_type.capitalize()} database backup")


def take_backup(backup_type: str, label: str, *, name: str, config: bool = False) -> list[PlannedStep]:
    """kolla's mariadb-backup, then Ferry's copy of the backup off the node (Ferry records it)."""
    user = {"ferry_backup_label": label}
    extra = {"ferry_backup_config": True} if config else {}
    return [
        step(name, "mariadb-backup", None, user=user, mariadb_backup_type=backup_type, **extra),
        step("Copy the backup off the database node", BACKUP_FETCH, None, user=user, **extra),
    ]


def _restore(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    release = _require(request.current_release, "release", "restore needs a deployed cloud: deploy it first")
    return restore_steps(request.backup(params["backup"]), release)


def backup_title(backup: BackupInfo) -> str:
    """How steps name a backup: ``backup #12 (full, 2026-12-01 10:00 UTC)``."""
    kind = f"incremental on #{backup.base[0].id}" if backup.base else backup.kind
    return f"backup #{backup.id} ({kind}, {backup.taken_at})"


def restore_steps(backup: BackupInfo, release: str | None) -> list[PlannedStep]:
    """Bring ``backup`` back into the cloud's MariaDB, as kolla's backup-and-restore guide does.

    Put the backup (an incremental: its full parent, then each increment in order) from Ferry's store
    into the ``mariadb_backup`` volume of the node it was taken on and check its sha256 there; stop
    MariaDB on every database host (``kolla-ansible stop -t mariadb``); extract, prepare and copy it
    back into that node's datadir; then kolla's mariadb-recovery bootstraps the Galera cluster from
    that node (the others join it), and the services are checked. ``backup`` must carry its chain
    (see :meth:`PlanRequest.backup`).
    """
    if backup.kind == "incremental" and not backup.base:
        raise PlanError("backup", f"incremental backup #{backup.id} comes without its full backup")
    if not backup.node:
        raise PlanError("backup", f"backup #{backup.id} does not say which database node it was taken on")
    title = backup_title(backup)
    # Names, checksums and paths as data: Ansible gets them unsafe and never templates them.
    chain = [
        {"id": b.id, "kind": b.kind, "name": b.name, "sha256": b.sha256, "store": b.store_path}
        for b in backup.chain
    ]
    user = {"ferry_restore_chain": chain, "ferry_restore_node": backup.node}
    return [
        step(f"Put {title} on {backup.node}", BACKUP_PUSH, None, user=user),
        step("Stop MariaDB on every database host", "stop", release, tags="mariadb"),
        step(f"Restore {title}: prepare and copy back", MARIADB_RESTORE, None, user=user),
        step(
            f"Recover the MariaDB cluster from {backup.node}",
            "mariadb-recovery",
            None,
            user={"mariadb_recover_inventory_name": backup.node},
        ),
        step("Check services", "check", release),
    ]


def _upgrade_path(request: PlanRequest, params: dict[str, Any]) -> tuple[str, str, list[str]]:
    current = _require(request.current_release, "release", "the cloud is not deployed yet: deploy it first")
    target = params["target_release"]
    return current, target, upgrade_path(request.releases, current, target)


def _upgrade(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    current, target, path = _upgrade_path(request, params)
    if len(path) > 1:
        raise PlanError(
            "target_release",
            f"{current} → {target} is not a legal hop (next release, or next SLURP from a SLURP); "
            f"use a fast-forward upgrade through {' → '.join(path)}",
        )
    return upgrade_hop(request, current, target, params)


def _ffu(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    current, _, path = _upgrade_path(request, params)
    steps: list[PlannedStep] = []
    for number, (previous, hop) in enumerate(zip([current, *path], path, strict=False), start=1):
        hop_steps = upgrade_hop(request, previous, hop, params)
        if params.get("pause_between_hops") and number < len(path):
            # A person looks at the cloud on its new release before the next hop starts.
            hop_steps[-1] = replace(hop_steps[-1], gate=True)
        steps += hop_steps
    return steps


def _rollout(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    _, target, path = _upgrade_path(request, params)
    if len(path) > 1:
        raise PlanError("target_release", f"a cell rollout does one hop; {target} is {len(path)} hops away")
    return _cell_rollout(request, params, target)


def _validate(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    current = _require(request.current_release, "release", "validate needs a deployed cloud: deploy it first")
    target = params.get("target_release") or current
    hops = legal_hops(request.releases, current)
    if target != current and target not in hops:
        raise PlanError(
            "target_release",
            f"validate for the release the cloud runs ({current}) or the next upgrade hop "
            f"({' or '.join(hops) or 'none'}); a fast-forward upgrade validates before each hop",
        )
    return validation_steps(request.releases, target, params)


def _archive(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    release = _require(request.current_release, "release", "archive needs a deployed cloud: deploy it first")
    purge = bool(params.get("purge"))
    command = "nova-manage db archive_deleted_rows --until-complete --all-cells" + (
        " --purge" if purge else ""
    )
    return [step(f"Archive soft-deleted nova rows ({command})", ARCHIVE, release, ferry_archive_purge=purge)]


# The data plane: kolla's containers that carry running instances and their traffic, and the
# agents beside them on computes and network hosts. A rollback stops none of them (kolla's stop
# skips the containers in skip_stop_containers, ansible/group_vars/all/common.yml).
DATA_PLANE_CONTAINERS = (
    "nova_libvirt",
    "nova_compute",
    "nova_compute_ironic",
    "nova_ssh",
    "openvswitch_db",
    "openvswitch_vswitchd",
    "ovn_controller",
    "neutron_openvswitch_agent",
    "neutron_ovn_metadata_agent",
    "neutron_ovn_agent",
    "neutron_sriov_agent",
    "neutron_l3_agent",
    "neutron_dhcp_agent",
    "neutron_metadata_agent",
    "iscsid",
    "multipathd",
    "tgtd",
)
# Containers whose image a rollback keeps as it runs (kolla's per-service tag variables): libvirt
# holds the instances, Open vSwitch their traffic. kolla refuses an older libvirt
# (nova-libvirt-version-check), and recreating either would interrupt every instance.
KEPT_IMAGE_TAGS = ("nova_libvirt_tag", "openvswitch_tag")


def rollback_problem(backup: BackupInfo, current: str | None, order: list[str]) -> str | None:
    """Why ``backup`` cannot be rolled back to on a cloud at ``current``, or None when it can."""
    if backup.job_kind not in ROLLBACK_SOURCES:
        took = f"a {backup.job_kind} job" if backup.job_kind else "no job Ferry ran"
        sources = ", ".join(KINDS[kind].label for kind in ROLLBACK_SOURCES)
        return (
            f"{backup.title} was taken by {took}; roll back only to a backup taken before a release "
            f"change by one of: {sources} (restore any other)"
        )
    if not backup.release or backup.release not in order:
        return f"{backup.title} does not say which release it was taken on"
    if not current or order.index(backup.release) >= order.index(current):
        return (
            f"{backup.title} was taken on {backup.release}, and the cloud runs {current or 'nothing'}: "
            "roll back to a backup taken before an upgrade, or restore this one"
        )
    return None


def loss_warning(backup: BackupInfo, now: datetime) -> str:
    """What a restore or rollback to ``backup`` loses: every database change since it was taken."""
    span = ""
    if backup.taken:
        minutes = max(int((now - backup.taken).total_seconds() // 60), 0)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        parts = [f"{days} d"] if days else []
        parts += [f"{hours} h"] if hours or days else []
        parts.append(f"{minutes} min")
        span = f" ({' '.join(parts)})"
    return (
        f"Loses every change the databases took since {backup.taken_at}{span}: instances, volumes, "
        "networks, users and quotas created, changed or deleted since then are forgotten by the "
        "control plane, although instances keep running on the computes."
    )


def plan_warnings(request: PlanRequest, params: dict[str, Any], now: datetime) -> list[str]:
    """What a person must know before launching: the data a restore or rollback loses, and
    what a rollback leaves newer than the control plane."""
    spec = kind_spec(request.kind)
    if not spec.restores_backup:
        return []
    backup = request.backup(params["backup"])
    warnings = [loss_warning(backup, now)]
    if spec.rolls_back and not backup.includes_config:
        warnings.append(
            f"{backup.title} holds no configuration archive: the cloud keeps its current globals.yml, "
            "passwords and configuration files."
        )
    if spec.rolls_back:
        warnings.append(
            f"nova-libvirt and Open vSwitch keep running {request.current_release} images under a "
            f"{backup.release} control plane (kolla refuses an older libvirt); keep nova_libvirt_tag "
            "and openvswitch_tag at those images in globals.yml until the next upgrade, or a later "
            "deploy or reconfigure tries to downgrade them."
        )
    return warnings


def _rollback(request: PlanRequest, params: dict[str, Any]) -> list[PlannedStep]:
    backup = request.backup(params["backup"])
    current, previous = request.current_release, backup.release
    problem = rollback_problem(backup, current, [r.series for r in request.releases])
    if problem:
        raise PlanError("backup", problem)
    current = _require(current, "release", "the cloud is not deployed")  # refused above already
    # kolla's own formula for openstack_tag, at the release the data plane keeps running.
    kept_tag = current + "-{{ kolla_base_distro }}-{{ kolla_base_distro_version }}{{ openstack_tag_suffix }}"
    # RabbitMQ keeps running through the stop: kolla resets its state with rabbitmqctl inside it.
    skipped = [*DATA_PLANE_CONTAINERS, "rabbitmq"]
    return [
        step(
            "Stop the control plane (the data plane keeps running: computes, libvirt, Open vSwitch, agents)",
            "stop",
            current,
            skip_stop_containers=skipped,
        ),
        *restore_steps(backup, current)[:-1],
        step(
            f"Reset RabbitMQ's state: RabbitMQ at {previous} cannot read what {current}'s wrote; "
            "services recreate their queues, messages in flight are lost",
            "rabbitmq-reset-state",
            current,
        ),
        step(
            f"Stop RabbitMQ so {previous}'s deploy recreates it instead of refusing to downgrade it "
            "(kolla's rabbitmq-version-check)",
            "stop",
            current,
            tags="rabbitmq",
        ),
        *(
            [
                step(
                    f"Put back the configuration archived with {backup.title} "
                    "(globals.yml, passwords.yml, configuration files)",
                    RESTORE_CONFIG,
                    None,
                    ferry_backup_id=backup.id,
                )
            ]
            if backup.includes_config
            else []
        ),
        step(
            f"Redeploy the control plane on {previous}; libvirt and Open vSwitch stay on {current} "
            "(kolla refuses an older libvirt); nova-compute and agents follow (never newer than it)",
            "deploy",
            previous,
            completes=previous,
            **dict.fromkeys(KEPT_IMAGE_TAGS, kept_tag),
        ),
        step(f"Check services on {previous}", "check", previous, **dict.fromkeys(KEPT_IMAGE_TAGS, kept_tag)),
    ]


Builder = Callable[[PlanRequest, dict[str, Any]], list[PlannedStep]]


@dataclass(frozen=True)
class KindSpec:
    """One kind of job: what it is called, whether it changes the cloud, what it takes and refuses.

    ``moves_release`` kinds mark the cloud as upgrading while they run; ``records_history`` kinds
    write the cloud's release history when they succeed; ``needs_mariabackup`` kinds take or
    restore a database backup, which kolla does only with ``enable_mariabackup`` on.
    ``targets_release`` kinds name in their release parameter a release to move the cloud to (one
    not out yet or out of life needs an acknowledgement); ``rollback_source`` kinds take their
    backup before they change release, so theirs are the only backups a rollback goes back to;
    ``restores_backup`` kinds bring a backup back (a person is warned what that loses);
    ``rolls_back`` kinds also take the cloud back to the release their backup was taken on, so
    they take only a ``rollback_source`` kind's backup. The one ``default`` kind is what the launch
    form offers first: a read-only one, so a slip launches nothing that changes the cloud.
    """

    name: str
    label: str
    mutating: bool
    params: tuple[Param, ...]
    refuses: str
    build: Builder
    moves_release: bool = False
    records_history: bool = False
    needs_mariabackup: bool = False
    targets_release: bool = False
    rollback_source: bool = False
    restores_backup: bool = False
    rolls_back: bool = False
    default: bool = False


def _release_param(help_text: str, required: bool = False) -> Param:
    return Param("release", "release", help_text, required=required)


TARGET = Param("target_release", "release", "the release to reach", required=True)
ACKNOWLEDGE = Param(
    "acknowledge_release_status", "boolean", "target a release that is in development or end of life"
)
BACKUP = Param("backup", "backup", "the id of the verified backup to bring back", required=True)
# Failure injection and pacing: the lab backend's knobs (runner/lab/README.md), for demos and tests.
LAB_PARAMS = (
    Param("lab_fail", "host-actions", "hosts whose tasks fail, per action", backend="lab"),
    Param("lab_unreachable", "hosts", "hosts reported unreachable", backend="lab"),
    Param(
        "lab_fail_once",
        "boolean",
        "lab_fail and lab_unreachable hit the first attempt only: a resume runs as once the fault is fixed",
        backend="lab",
    ),
    Param("lab_slow_seconds", "number", "a real sleep at the start", maximum=3600, backend="lab"),
    Param("lab_slow_hosts", "hosts", "the hosts that sleep (default: all)", backend="lab"),
    Param("lab_item_delay", "number", "seconds added to every task item", maximum=60, backend="lab"),
    Param("lab_config_overrides", "overrides", "merged into rendered config", backend="lab"),
)
# Lab knobs holding text a person wrote; the others name hosts, actions or numbers Ferry checked.
LAB_FREE_TEXT = frozenset(p.name for p in LAB_PARAMS if p.free_text)
CURRENT = _release_param("the release to run it for (default: the cloud's current release)")


def _kind(
    name: str,
    label: str,
    mutating: bool,
    params: tuple[Param, ...],
    refuses: str,
    build: Builder,
    **flags: bool,
) -> KindSpec:
    return KindSpec(name, label, mutating, (*params, *LAB_PARAMS), refuses, build, **flags)


# The validations' thresholds: the validate kind takes them, and so does every upgrade kind, whose
# plan opens with the same validations.
THRESHOLD_PARAMS = (
    Param(
        "soft_deleted_threshold",
        "number",
        "soft-deleted rows of a nova database above which validation fails",
        default=VALIDATION_DEFAULTS["soft_deleted_threshold"],
        maximum=1_000_000_000,
    ),
    Param(
        "min_free_gb",
        "number",
        "free GB each host needs for container images",
        default=VALIDATION_DEFAULTS["min_free_gb"],
        maximum=100_000,
    ),
    Param(
        "cert_warn_days",
        "number",
        "warn about certificates that expire within this many days",
        default=VALIDATION_DEFAULTS["cert_warn_days"],
        maximum=3650,
    ),
)
VALIDATE_PARAMS = (
    Param(
        "target_release",
        "release",
        "the release of the coming upgrade (default: the cloud's current release)",
    ),
    *THRESHOLD_PARAMS,
)

# The one table of job kinds: the models, the API, the forms and the worker all read it.
KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        _kind(
            "prechecks",
            "prechecks",
            False,
            (CURRENT,),
            "a cloud that is not deployed",
            _single_action("Prechecks", "prechecks"),
            default=True,
        ),
        _kind(
            "validate",
            "validate before a maintenance",
            False,
            VALIDATE_PARAMS,
            "a cloud that is not deployed, and a release other than its own or the next upgrade hop",
            _validate,
        ),
        _kind(
            "archive",
            "archive soft-deleted rows",
            True,
            (Param("purge", "boolean", "also purge the shadow tables the rows are archived to"),),
            "a cloud that is not deployed",
            _archive,
        ),
        _kind(
            "check",
            "check",
            False,
            (CURRENT,),
            "a cloud that is not deployed",
            _single_action("Check services", "check"),
        ),
        _kind(
            "deploy",
            "deploy",
            True,
            (_release_param("the release to deploy (default: the cloud's current release)"), ACKNOWLEDGE),
            "a release other than the one the cloud runs (that is an upgrade)",
            _deploy,
            records_history=True,
            targets_release=True,
        ),
        _kind(
            "pull",
            "pull images",
            True,
            (CURRENT,),
            "a cloud that is not deployed",
            _single_action("Pull images", "pull"),
        ),
        _kind(
            "reconfigure",
            "reconfigure",
            True,
            (CURRENT,),
            "a cloud that is not deployed",
            _reconfigure,
            records_history=True,
        ),
        _kind(
            "backup",
            "database backup",
            True,
            (
                Param(
                    "backup_type",
                    "choice",
                    "full, or incremental on the last full",
                    choices=("full", "incremental"),
                    default="full",
                ),
                Param("label", "name", "a name to find the backup by", default="manual"),
            ),
            "a cloud whose globals do not turn enable_mariabackup on",
            _backup,
            needs_mariabackup=True,
        ),
        _kind(
            "restore",
            "database restore",
            True,
            (BACKUP,),
            "a backup of another cloud, one not verified, an incremental without its full backup",
            _restore,
            restores_backup=True,
        ),
        _kind(
            "upgrade",
            "upgrade",
            True,
            (TARGET, ACKNOWLEDGE, *THRESHOLD_PARAMS),
            "downgrades, and more than one hop (use a fast-forward upgrade)",
            _upgrade,
            moves_release=True,
            records_history=True,
            needs_mariabackup=True,
            targets_release=True,
            rollback_source=True,
        ),
        _kind(
            "ffu",
            "fast-forward upgrade",
            True,
            (
                TARGET,
                Param("pause_between_hops", "boolean", "wait for a person after each hop but the last"),
                ACKNOWLEDGE,
                *THRESHOLD_PARAMS,
            ),
            "downgrades",
            _ffu,
            moves_release=True,
            records_history=True,
            needs_mariabackup=True,
            targets_release=True,
            rollback_source=True,
        ),
        _kind(
            "cell-rollout",
            "cell-by-cell upgrade with canary",
            True,
            (
                TARGET,
                Param("canary", "cell", "the cell to upgrade first (default: the first cell)"),
                ACKNOWLEDGE,
                *THRESHOLD_PARAMS,
            ),
            "more than one hop, a cloud without cells, and globals that turn nova_safety_upgrade on",
            _rollout,
            moves_release=True,
            records_history=True,
            needs_mariabackup=True,
            targets_release=True,
            rollback_source=True,
        ),
        _kind(
            "rollback",
            "rollback (restore and redeploy)",
            True,
            (BACKUP,),
            "what restore refuses, and any backup but one an upgrade took before it changed release",
            _rollback,
            records_history=True,
            needs_mariabackup=True,
            restores_backup=True,
            rolls_back=True,
        ),
        _kind(
            "stop",
            "stop containers",
            True,
            (CURRENT,),
            "a cloud that is not deployed",
            _single_action("Stop containers", "stop"),
        ),
    )
}
# Kinds whose backups are taken before the cloud changes release: the only ones to roll back to.
ROLLBACK_SOURCES = tuple(name for name, spec in KINDS.items() if spec.rollback_source)
# What the launch form offers first.
DEFAULT_KIND = next(name for name, spec in KINDS.items() if spec.default)


# A cell rollout upgrades the whole cloud in three parts, by kolla-ansible's site.yml tags (22.x).
# First what nova depends on, in site.yml's order: kolla's cells guide stages nova on the
# assumption that these run the new release already, and nova's upgrade guide puts placement (and
# keystone, glance, cinder, neutron) before nova. "common" is kolla-toolbox, through which every
# role registers in keystone; "loadbalancer" is haproxy and keepalived.
ROLLOUT_BEFORE_NOVA = (
    "common",
    "cron",
    "fluentd",
    "loadbalancer",
    "letsencrypt",
    "valkey",
    "mariadb",
    "memcached",
    "iscsi",
    "multipathd",
    "rabbitmq",
    "etcd",
    "keystone",
    "ceph-rgw",
    "glance",
    "ironic",
    "cinder",
    "placement",
    "openvswitch",
    "ovs-dpdk",
    "ovn",
    "neutron",
)
# Then nova itself in kolla's stages (nova.yml's tags), a cell at a time between API and reload.
NOVA_BOOTSTRAP_TAGS = "nova-bootstrap"
NOVA_API_TAGS = "nova-api-upgrade"
NOVA_CELL_TAGS = "nova-cell-upgrade"
NOVA_RELOAD_TAGS = "nova-reload,nova-online-data-migrations"
# Last every other role of site.yml: nothing nova needs waits on them.
ROLLOUT_AFTER_NOVA = (
    "opensearch",
    "collectd",
    "prometheus",
    "hacluster",
    "heat",
    "horizon",
    "magnum",
    "mistral",
    "manila",
    "gnocchi",
    "ceilometer",
    "aodh",
    "barbican",
    "cyborg",
    "designate",
    "trove",
    "watcher",
    "grafana",
    "cloudkitty",
    "tacker",
    "octavia",
    "blazar",
    "masakari",
    "skyline",
)


def _cell_rollout(request: PlanRequest, params: dict[str, Any], target: str) -> list[PlannedStep]:
    """A whole-cloud upgrade to ``target`` that moves nova one cell at a time, the canary first.

    Pull, prechecks and a backup; then every service nova depends on; then nova as kolla's cells
    guide stages it (bootstrap, API level, the canary cell and a gate, the other cells, reload and
    online data migrations); then the rest of the cloud, post-deploy and the final check. Only that
    check completes the release: a rollout that stops anywhere leaves the cloud at its old release.
    """
    cells = list(request.cells)
    if not cells:
        raise PlanError("cells", "the cloud has no cells to roll out to; use an upgrade")
    if request.nova_safety_upgrade:
        raise PlanError(
            "nova_safety_upgrade",
            "this cloud's globals.yml turns nova_safety_upgrade on, which stops every nova service "
            "before upgrading any: nova cannot move a cell at a time. Turn it off for a cell rollout, "
            "or use an upgrade",
        )
    canary = params.get("canary") or cells[0]
    order = [canary] + [c for c in cells if c != canary]
    prep = hop_prep(_require(request.current_release, "release", "the cloud is not deployed"), target)
    steps = [
        *validation_steps(request.releases, target, params),
        *preparation_steps(request, prep),
        *before_upgrade(prep),
        step(
            "Upgrade the services nova depends on (haproxy, keepalived, MariaDB, RabbitMQ, keystone, "
            "glance, cinder, placement, Open vSwitch, neutron…)",
            "upgrade",
            target,
            tags=",".join(ROLLOUT_BEFORE_NOVA),
        ),
        step("Nova bootstrap", "upgrade", target, tags=NOVA_BOOTSTRAP_TAGS),
        step("Upgrade nova API level", "upgrade", target, tags=NOVA_API_TAGS),
    ]
    for cell in order:
        label = "canary cell" if cell == canary else "cell"
        upgraded = step(
            f"Upgrade {label} {cell}",
            "upgrade",
            target,
            tags=NOVA_CELL_TAGS,
            limit=request.cell_groups.get(cell, cell),
        )
        # The rollout waits after the canary: a person checks it before any other cell moves.
        steps.append(replace(upgraded, gate=cell == canary))
    steps += [
        # kolla's default cell has no group of its own: its conductor and console proxies run on
        # the controllers. Unlimited, the step moves them; the named cells run the target already,
        # and kolla leaves a container on its image and configuration as it is.
        step(
            "Upgrade nova cell services outside the named cells (the default cell)",
            "upgrade",
            target,
            tags=NOVA_CELL_TAGS,
        ),
        step("Reload nova and run online data migrations", "upgrade", target, tags=NOVA_RELOAD_TAGS),
        step(
            "Upgrade the other services (horizon, heat, monitoring…)",
            "upgrade",
            target,
            tags=",".join(ROLLOUT_AFTER_NOVA),
        ),
        step(f"Post-deploy {target}", "post-deploy", target),
        # The cloud runs the target once every service does: its check is what says so.
        step(f"Check services on {target}", "check", target, completes=target),
    ]
    return steps


def cell_upgrade_release(action: str, tags: str, limit: str, extra_vars: dict[str, Any]) -> str:
    """The release a step moves the hosts its limit selects to, or "" for any other step.

    A cell rollout's cell step (``upgrade --tags nova-cell-upgrade --limit <cell>``) is the one
    step that moves a cell alone. The unlimited one (the default cell) leaves the controllers
    between releases until the rest follows: the step that completes the release records them.
    """
    if action == "upgrade" and tags == NOVA_CELL_TAGS and limit:
        return str(extra_vars.get("openstack_release") or "")
    return ""


def plan_hash(steps: list[dict[str, Any]], revision: str) -> str:
    """SHA-256 over the canonical JSON of the rendered ``steps`` and the cloud's config ``revision``.

    The same steps on the same configuration give the same hash, so what runs can be matched with
    what was read.
    """
    canonical = json.dumps({"steps": steps, "revision": revision}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _require(value: Any, field_name: str, message: str) -> Any:
    if not value:
        raise PlanError(field_name, message)
    return value
