"""Backends turn a planned step into a concrete ansible-runner invocation (a ``StepSpec``).

``lab`` plays kolla-ansible's actions against local directories with the
project's own playbooks; ``kolla-ansible`` runs kolla-ansible's playbooks from
the version that matches the cloud's release, built exactly as its CLI builds
them. Both get the same inventory, globals and passwords.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner import lab
from runner.execute import StepSpec
from runner.inventory import Inventory, render_inventory
from runner.kolla import build_invocation, ensure_kolla_ansible, kolla_version_for
from runner.planner import BACKUP_FETCH, BACKUP_PUSH, LAB_FREE_TEXT, MARIADB_RESTORE

LAB_DIR = Path(__file__).resolve().parent / "lab"
# Ferry's own playbooks for the kolla-ansible backend: steps kolla-ansible has no action for.
FERRY_PLAYBOOK_DIR = Path(__file__).resolve().parent / "playbooks"
FERRY_ACTIONS = {action: f"{action}.yml" for action in (BACKUP_FETCH, BACKUP_PUSH, MARIADB_RESTORE)}


@dataclass
class CloudContext:
    """What a backend needs to know of a cloud; plain data, no database."""

    slug: str
    inventory: Inventory
    globals: dict[str, Any]
    passwords: dict[str, Any]
    secrets: list[str]
    release: str | None
    distro: str
    distro_version: str
    var_dir: Path
    globals_text: str = ""
    lab_vars: dict[str, Any] = field(default_factory=dict)  # checked knobs; free text passes unsafe


@dataclass
class StepInput:
    """A planned step as stored on the job."""

    action: str
    playbook: str
    extra_vars: dict[str, Any]
    limit: str = ""
    tags: str = ""
    user_vars: dict[str, Any] = field(default_factory=dict)


def lab_root(context: CloudContext) -> Path:
    """Where the lab keeps the cloud's hosts: ``<var>/lab/<cloud>/``."""
    return context.var_dir / "lab" / context.slug


class LabBackend:
    """The lab: the project's playbooks against one local directory per inventory host."""

    name = "lab"

    def step_spec(self, context: CloudContext, step: StepInput, run_dir: Path) -> StepSpec:
        run_dir.mkdir(parents=True, exist_ok=True)
        inventory = render_inventory(context.inventory, run_dir / "inventory")
        root = lab_root(context)
        lab.prepare_lab(root, context.inventory.hosts)
        extra = {
            "kolla_base_distro": context.distro,
            "kolla_base_distro_version": context.distro_version,
            **context.globals,
            **context.passwords,
            **step.extra_vars,
            **{k: v for k, v in context.lab_vars.items() if k not in LAB_FREE_TEXT},
            **lab.lab_extra_vars(root),
        }
        if step.playbook == "site.yml":
            extra["kolla_action"] = step.action
            if step.action in {"upgrade", "reconfigure"}:
                extra["kolla_serial"] = 0
        return StepSpec(
            playbook=lab.playbook(step.playbook),
            project_dir=LAB_DIR,
            inventory=inventory,
            extra_vars=extra,
            limit=step.limit or None,
            tags=step.tags or None,
            secrets=context.secrets,
            run_dir=run_dir,
            unsafe_vars={
                **step.user_vars,
                **{k: v for k, v in context.lab_vars.items() if k in LAB_FREE_TEXT},
            },
        )


class KollaAnsibleBackend:
    """kolla-ansible's own playbooks, from the version that deploys the step's release."""

    name = "kolla-ansible"

    def step_spec(self, context: CloudContext, step: StepInput, run_dir: Path) -> StepSpec:
        release = step.extra_vars.get("openstack_release") or context.release
        if not release:
            raise ValueError("the kolla-ansible backend needs a release to pick its kolla-ansible version")
        install = ensure_kolla_ansible(kolla_version_for(release), base=context.var_dir / "kolla")
        run_dir.mkdir(parents=True, exist_ok=True)
        config_dir = run_dir / "etc-kolla"
        config_dir.mkdir(mode=0o700, exist_ok=True)
        (config_dir / "globals.yml").write_text(context.globals_text or yaml.safe_dump(context.globals))
        passwords = config_dir / "passwords.yml"
        passwords.write_text(yaml.safe_dump(context.passwords, sort_keys=True))
        passwords.chmod(0o600)
        inventory = render_inventory(context.inventory, run_dir / "inventory")
        if step.action in FERRY_ACTIONS:
            return StepSpec(
                playbook=FERRY_PLAYBOOK_DIR / FERRY_ACTIONS[step.action],
                project_dir=FERRY_PLAYBOOK_DIR,
                inventory=inventory,
                extra_vars_files=[str(config_dir / "globals.yml")],
                extra_vars=dict(step.extra_vars),
                limit=step.limit or None,
                secrets=context.secrets,
                run_dir=run_dir,
                unsafe_vars=dict(step.user_vars),
            )
        step_vars = {k: v for k, v in step.extra_vars.items() if k != "mariadb_backup_type"}
        invocation = build_invocation(
            step.action,
            install=install,
            inventory=inventory,
            config_dir=config_dir,
            extra_vars=step_vars,
            limit=step.limit or None,
            tags=step.tags or None,
            backup_type=step.extra_vars.get("mariadb_backup_type")
            if step.action == "mariadb-backup"
            else None,
        )
        files, values = split_extra_vars(invocation.extra_vars)
        return StepSpec(
            playbook=invocation.playbook,
            project_dir=invocation.playbook.parent,
            inventory=inventory,
            extra_vars_files=files,
            extra_vars=values,
            limit=invocation.limit,
            tags=invocation.tags,
            secrets=context.secrets,
            run_dir=run_dir,
            bin_dir=install.ansible_playbook.parent,
            unsafe_vars=dict(step.user_vars),
        )


def split_extra_vars(arguments: tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    """Turn kolla's ``-e`` arguments into files (``@path``, in order) and one mapping (later wins).

    kolla passes every file before every ``key=value``, so keeping the files
    first and merging the values in order gives Ansible the same precedence.
    """
    files, values = [], {}
    for argument in arguments:
        if argument.startswith("@"):
            if values:
                raise ValueError(f"a vars file after key=value arguments would change precedence: {argument}")
            files.append(argument[1:])
        elif argument.startswith("{"):
            values.update(json.loads(argument))
        else:
            key, _, value = argument.partition("=")
            values[key] = value
    return files, values


BACKENDS = {"lab": LabBackend(), "kolla-ansible": KollaAnsibleBackend()}


def backend_for(name: str) -> LabBackend | KollaAnsibleBackend:
    """The backend called ``name``."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; one of {', '.join(BACKENDS)}") from None
