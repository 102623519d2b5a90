"""Backends turn a planned step into a concrete ansible-runner invocation (a ``StepSpec``).

``lab`` plays kolla-ansible's actions against local directories with the
project's own playbooks; ``kolla-ansible`` runs kolla-ansible's playbooks from
the version that matches the cloud's release, built exactly as its CLI builds
them. Both get the same inventory, globals and passwords; kolla-ansible also gets the
cloud's configuration files (globals.d/, config/, certificates/) in its config dir.
"""

from __future__ import annotations

import configparser
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner import lab
from runner.execute import StepSpec
from runner.inventory import Inventory, render_inventory
from runner.kolla import (
    KollaInstall,
    build_invocation,
    cli_command,
    ensure_kolla_ansible,
    kolla_extra_vars,
    kolla_version_for,
)
from runner.planner import (
    ARCHIVE,
    FERRY_PLAYBOOK_ACTIONS,
    KOLLA_INSTALL,
    LAB_FREE_TEXT,
    VALIDATE,
)

log = logging.getLogger(__name__)

LAB_DIR = Path(__file__).resolve().parent / "lab"
# Ferry's own playbooks for the kolla-ansible backend: steps kolla-ansible has no action for.
FERRY_PLAYBOOK_DIR = Path(__file__).resolve().parent / "playbooks"
FERRY_ACTIONS = {action: f"{action}.yml" for action in FERRY_PLAYBOOK_ACTIONS}
# Ferry's playbooks that read passwords.yml: those that query MariaDB (database_password).
READS_PASSWORDS = frozenset({VALIDATE, ARCHIVE})
# kolla's validate-config only writes what oslo-config-validator finds to files on the controller;
# Ferry runs kolla's playbook inside one of its own that fails each host on those files.
VALIDATE_CONFIG = "validate-config"
VALIDATE_CONFIG_PLAYBOOK = FERRY_PLAYBOOK_DIR / "ferry-validate-config.yml"


#: kolla's directories under its config dir that Ferry models, and the variables naming the first two.
FILE_AREAS = ("config", "certificates", "globals.d")
# group_vars/all of kolla-ansible 22: node_config is CONFIG_DIR (or /etc/kolla), node_custom_config
# "{{ node_config }}/config", kolla_certificates_dir "{{ node_config }}/certificates".
AREA_VARIABLES = {"config": "node_custom_config", "certificates": "kolla_certificates_dir"}
_DIR_VARIABLES = ("node_config", *AREA_VARIABLES.values())


@dataclass(frozen=True)
class ConfigFile:
    """One file of a cloud's kolla config dir: ``<area>/<path>``, its bytes, whether it is secret."""

    area: str
    path: str
    content: bytes
    secret: bool = False


def write_config_files(config_dir: Path, files: list[ConfigFile]) -> list[Path]:
    """Write FILES under CONFIG_DIR (``config/…``, ``certificates/…``, ``globals.d/…``), secret
    ones mode 0600, others 0644, directories 0700. A path that would leave its area is refused."""
    written = []
    for item in files:
        if item.area not in FILE_AREAS:
            raise ValueError(f"unknown configuration area {item.area!r}")
        parts = item.path.split("/")
        if item.path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in item.path:
            raise ValueError(f"unsafe configuration file path {item.area}/{item.path!r}")
        target = config_dir.joinpath(item.area, *parts)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.content)
        target.chmod(0o600 if item.secret else 0o644)
        written.append(target)
    return written


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
    files: list[ConfigFile] = field(default_factory=list)
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
        overrides = lab_config_overrides(context.files)
        sources = lab_config_sources(context.files)
        extra = {
            "kolla_base_distro": context.distro,
            "kolla_base_distro_version": context.distro_version,
            **context.globals,
            **globals_d_vars(context.files),
            **context.passwords,
            **({"lab_config_overrides": overrides, "lab_config_sources": sources} if overrides else {}),
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


def globals_d_vars(files: list[ConfigFile]) -> dict[str, Any]:
    """The variables of the cloud's globals.d files, merged in kolla's order (sorted by name)."""
    merged: dict[str, Any] = {}
    for item in sorted((f for f in files if f.area == "globals.d"), key=lambda f: f.path):
        data = yaml.safe_load(item.content) or {}
        if not isinstance(data, dict):
            raise ValueError(f"globals.d/{item.path} is not a mapping of variables")
        merged.update(data)
    return merged


def lab_config_sources(files: list[ConfigFile]) -> dict[str, dict[str, dict[str, str]]]:
    """Which file set each override: ``{project or service: {section: {key: "config/<path>"}}}``,
    so that the lab's validate-config names the file of an option it does not know."""
    sources: dict[str, dict[str, dict[str, str]]] = {}
    for item in files:
        for target, sections in lab_config_overrides([item]).items():
            for section, keys in sections.items():
                sources.setdefault(target, {}).setdefault(section, {}).update(
                    dict.fromkeys(keys, f"config/{item.path}")
                )
    return sources


def lab_config_overrides(files: list[ConfigFile]) -> dict[str, dict[str, dict[str, str]]]:
    """The cloud's INI overrides under config/ as the lab's ``lab_config_overrides``.

    As kolla's ``node_custom_config``: ``config/<project>.conf`` applies to every service of the
    project, ``config/<project>/<service>.conf`` (``nova/nova-compute.conf``) to one service. Other
    files (keyrings, ``glance/ceph.conf``, per-host directories) mean nothing to the lab.
    """
    overrides: dict[str, dict[str, dict[str, str]]] = {}
    for item in sorted(files, key=lambda f: (f.path.count("/"), f.path)):
        if item.area != "config" or not item.path.endswith(".conf"):
            continue
        parts = item.path[: -len(".conf")].split("/")
        if len(parts) == 1:
            target = parts[0]
        elif len(parts) == 2 and (parts[1] == parts[0] or parts[1].startswith(f"{parts[0]}-")):
            target = parts[1]
        else:
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\0none")
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(item.content.decode("utf-8"), source=f"config/{item.path}")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"config/{item.path} is not an INI file the lab can merge: {exc}") from None
        sections = overrides.setdefault(target, {})
        for section in parser.sections():
            sections.setdefault(section, {}).update(parser.items(section, raw=True))
    return overrides


class KollaAnsibleBackend:
    """kolla-ansible's own playbooks, from the version that deploys the step's release.

    validate-config runs kolla's site.yml inside runner/playbooks/ferry-validate-config.yml, which
    fails on what oslo-config-validator reported; every other action runs kolla's playbook itself.
    Every step, Ferry's own playbooks too, runs that release's ansible-playbook with that release's
    collections directory as its only collections path (``KollaInstall.ansible_env``).
    """

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
        # Before build_invocation: it lists globals.d/ as kolla-ansible's CLI does.
        write_config_files(config_dir, context.files)
        inventory = render_inventory(context.inventory, run_dir / "inventory")
        if step.action in FERRY_ACTIONS:
            files = [str(config_dir / "globals.yml")]
            if step.action in READS_PASSWORDS:
                files.append(str(passwords))
            return StepSpec(
                playbook=FERRY_PLAYBOOK_DIR / FERRY_ACTIONS[step.action],
                project_dir=FERRY_PLAYBOOK_DIR,
                inventory=inventory,
                extra_vars_files=files,
                # The image tag's distro when globals.yml leaves it to kolla's defaults.
                extra_vars={
                    "ferry_base_distro": context.distro,
                    "ferry_base_distro_version": context.distro_version,
                    **kolla_extra_vars(step.extra_vars),
                    **(kolla_install_vars(install) if step.action == KOLLA_INSTALL else {}),
                },
                limit=step.limit or None,
                env=install.ansible_env(),
                secrets=context.secrets,
                run_dir=run_dir,
                bin_dir=install.bin,
                unsafe_vars=dict(step.user_vars),
            )
        step_vars = {k: v for k, v in kolla_extra_vars(step.extra_vars).items() if k != "mariadb_backup_type"}
        step_vars.update(pinned_config_dirs(context, config_dir))
        if step.action == VALIDATE_CONFIG:
            step_vars["service_config_validate_output_dir"] = str(_report_dir(run_dir))
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
        log.info(
            "step %s is %s",
            step.action,
            cli_command(
                step.action,
                extra_vars={**step_vars, **step.user_vars, **_backup_type(step)},
                limit=step.limit,
                tags=step.tags,
                inventory=str(inventory),
                config_dir=str(config_dir),
            ),
        )
        files, values = split_extra_vars(invocation.extra_vars)
        playbook = invocation.playbook
        if step.action == VALIDATE_CONFIG:
            values["ferry_kolla_playbook"] = str(invocation.playbook)
            playbook = VALIDATE_CONFIG_PLAYBOOK
        return StepSpec(
            playbook=playbook,
            project_dir=invocation.playbook.parent,
            inventory=inventory,
            extra_vars_files=files,
            extra_vars=values,
            limit=invocation.limit,
            tags=invocation.tags,
            env=install.ansible_env(),
            secrets=context.secrets,
            run_dir=run_dir,
            bin_dir=install.bin,
            unsafe_vars=dict(step.user_vars),
        )


def kolla_install_vars(install: KollaInstall) -> dict[str, Any]:
    """What runner/playbooks/ferry-kolla-install.yml needs: which kolla-ansible ``step_spec`` made
    sure of, and where its collections go and from which requirement files (paths and the
    install-deps command as data: the step runs it without a shell)."""
    return {
        "ferry_kolla_ansible_version": install.version,
        "ferry_kolla_ansible_venv": str(install.venv),
        "ferry_kolla_collections_path": str(install.collections_dir),
        "ferry_kolla_requirements": [str(path) for path in install.requirement_files],
        "ferry_kolla_install_deps": install.install_deps,
    }


def _report_dir(run_dir: Path) -> Path:
    """An empty directory of the step's own for oslo-config-validator's reports: what an earlier run
    of the step left there must not fail this one."""
    reports = Path(os.path.abspath(run_dir)) / "config-validate"
    if reports.exists():
        shutil.rmtree(reports)
    reports.mkdir(mode=0o700)
    return reports


def _backup_type(step: StepInput) -> dict[str, Any]:
    kind = step.extra_vars.get("mariadb_backup_type")
    return {"mariadb_backup_type": kind} if kind and step.action == "mariadb-backup" else {}


def pinned_config_dirs(context: CloudContext, config_dir: Path) -> dict[str, str]:
    """``node_custom_config`` and ``kolla_certificates_dir`` pointed at the run's config dir, when the
    cloud's globals (or globals.d) set them or ``node_config`` to somewhere else.

    kolla derives both from ``CONFIG_DIR``, which the run passes; but globals are ``-e`` files and win
    over kolla's defaults, so a globals.yml naming ``/etc/kolla/config`` would send kolla to a
    directory the worker does not have, and the cloud's overrides and certificates would be dropped
    without a word. The step's own variables come after the globals, so these win.
    """
    named = [context.globals]
    for item in context.files:
        if item.area == "globals.d":
            try:
                named.append(yaml.safe_load(item.content) or {})
            except yaml.YAMLError:
                continue
    if not any(isinstance(v, dict) and any(k in v for k in _DIR_VARIABLES) for v in named):
        return {}
    config = os.path.abspath(config_dir)
    return {name: os.path.join(config, area) for area, name in AREA_VARIABLES.items()}


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
