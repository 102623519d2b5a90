"""kolla-ansible installs and the ansible-playbook commands that kolla-ansible would run.

Each kolla-ansible release lives in its own virtualenv, because every upgrade hop needs the
kolla-ansible of its target release. `build_invocation` reproduces, argument for argument, the
ansible-playbook command line that the kolla-ansible 22 CLI builds for an action, so that Ferry
can run the playbooks itself (through ansible-runner) without going through that CLI.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "22.2.0"
#: kolla-ansible's config dir when ``--configdir`` is not given (and KOLLA_CONFIG_PATH is unset).
DEFAULT_CONFIG_DIR = "/etc/kolla"
REPO = Path(__file__).resolve().parents[1]

#: Release series -> the kolla-ansible major version that deploys it: the one table of this fact
#: (the catalog's releases read it too). kolla-ansible's first release, 4.0.0, deployed Ocata
#: (2017.1); the series before it were deployed by kolla itself and have no kolla-ansible.
KOLLA_MAJOR_BY_SERIES: dict[str, int] = {
    "2017.1": 4,
    "2017.2": 5,
    "2018.1": 6,
    "2018.2": 7,
    "2019.1": 8,
    "2019.2": 9,
    "2020.1": 10,
    "2020.2": 11,
    "2021.1": 12,
    "2021.2": 13,
    "2022.1": 14,
    "2022.2": 15,
    "2023.1": 16,
    "2023.2": 17,
    "2024.1": 18,
    "2024.2": 19,
    "2025.1": 20,
    "2025.2": 21,
    "2026.1": 22,
    "2026.2": 23,
    "2027.1": 24,
}

#: Release series -> its name. Up to Zed (2022.2) kolla-ansible's ``openstack_release`` is the
#: lower-case name (``zed``); from Antelope (2023.1) on it is the series (``2023.1``).
SERIES_NAMES: dict[str, str] = {
    "2015.2": "Liberty",
    "2016.1": "Mitaka",
    "2016.2": "Newton",
    "2017.1": "Ocata",
    "2017.2": "Pike",
    "2018.1": "Queens",
    "2018.2": "Rocky",
    "2019.1": "Stein",
    "2019.2": "Train",
    "2020.1": "Ussuri",
    "2020.2": "Victoria",
    "2021.1": "Wallaby",
    "2021.2": "Xena",
    "2022.1": "Yoga",
    "2022.2": "Zed",
    "2023.1": "Antelope",
    "2023.2": "Bobcat",
    "2024.1": "Caracal",
    "2024.2": "Dalmatian",
    "2025.1": "Epoxy",
    "2025.2": "Flamingo",
    "2026.1": "Gazpacho",
    "2026.2": "Hibiscus",
    "2027.1": "Indri",
}
_FIRST_NUMBERED_RELEASE = "2023.1"

#: The host operating systems kolla-ansible's prechecks accept (``host_os_distributions`` in
#: ``roles/prechecks/vars/main.yml`` of each release's last tag), by kolla-ansible major. Majors
#: before 10 did not check the host OS; 23 (2026.2) is what master held before its branch.
HOST_OS_BY_MAJOR: dict[int, dict[str, tuple[str, ...]]] = {
    10: {"CentOS": ("8",), "Debian": ("buster",), "RHEL": ("8",), "Ubuntu": ("bionic",)},
    11: {"CentOS": ("8",), "Debian": ("buster",), "RHEL": ("8",), "Ubuntu": ("bionic", "focal")},
    12: {"CentOS": ("8",), "Debian": ("buster", "bullseye"), "RHEL": ("8",), "Ubuntu": ("focal",)},
    13: {"CentOS": ("8",), "Debian": ("bullseye",), "RHEL": ("8",), "Rocky": ("8",), "Ubuntu": ("focal",)},
    14: {
        "CentOS": ("8", "9"),
        "Debian": ("bullseye",),
        "openEuler": ("20.03",),
        "RHEL": ("8", "9"),
        "Rocky": ("8", "9"),
        "Ubuntu": ("focal", "jammy"),
    },
    15: {
        "CentOS": ("9",),
        "Debian": ("bullseye",),
        "openEuler": ("22.03",),
        "Rocky": ("9",),
        "Ubuntu": ("focal", "jammy"),
    },
    16: {
        "CentOS": ("9",),
        "Debian": ("bullseye", "bookworm"),
        "openEuler": ("22.03",),
        "Rocky": ("9",),
        "Ubuntu": ("jammy",),
    },
    17: {
        "CentOS": ("9",),
        "Debian": ("bullseye", "bookworm"),
        "openEuler": ("22.03",),
        "Rocky": ("9",),
        "Ubuntu": ("jammy",),
    },
    18: {
        "CentOS": ("9",),
        "Debian": ("bullseye", "bookworm"),
        "openEuler": ("22.03",),
        "Rocky": ("9",),
        "Ubuntu": ("jammy", "noble"),
    },
    19: {"CentOS": ("9",), "Debian": ("bookworm",), "Rocky": ("9",), "Ubuntu": ("jammy", "noble")},
    20: {"CentOS": ("9", "10"), "Debian": ("bookworm",), "Rocky": ("9", "10"), "Ubuntu": ("noble",)},
    21: {"CentOS": ("10",), "Debian": ("bookworm",), "Rocky": ("10",), "Ubuntu": ("noble",)},
    22: {"CentOS": ("10",), "Debian": ("bookworm", "trixie"), "Rocky": ("10",), "Ubuntu": ("noble",)},
    23: {"Debian": ("trixie",), "Rocky": ("10",), "Ubuntu": ("noble",)},
}

#: kolla-ansible's default ``kolla_base_distro`` (the image base): centos up to 14 (Yoga), rocky
#: from 15 (Zed) on.
_ROCKY_BASE_FROM_MAJOR = 15


def kolla_openstack_release(series: str) -> str:
    """``openstack_release`` as kolla-ansible expects it for SERIES: ``zed`` up to 2022.2, else ``2023.1``."""
    if series in SERIES_NAMES and series < _FIRST_NUMBERED_RELEASE:
        return SERIES_NAMES[series].lower()
    return series


def host_os_for(series: str) -> dict[str, tuple[str, ...]] | None:
    """The host OSes kolla-ansible's prechecks accept for SERIES, or None where kolla did not check."""
    major = KOLLA_MAJOR_BY_SERIES.get(series)
    return HOST_OS_BY_MAJOR.get(major) if major else None


def default_base_distro(series: str) -> str | None:
    """kolla-ansible's default image base for SERIES, or None for a series without kolla-ansible."""
    major = KOLLA_MAJOR_BY_SERIES.get(series)
    if major is None:
        return None
    return "rocky" if major >= _ROCKY_BASE_FROM_MAJOR else "centos"


def kolla_extra_vars(extra_vars: Mapping[str, Any]) -> dict[str, Any]:
    """A step's variables as kolla-ansible wants them: ``openstack_release`` in kolla's spelling."""
    variables = dict(extra_vars)
    if isinstance(variables.get("openstack_release"), str):
        variables["openstack_release"] = kolla_openstack_release(variables["openstack_release"])
    return variables


#: The kolla-ansible release Ferry installs for a major version. Only majors whose CLI
#: `build_invocation` reproduces (checked by runner/tests/test_kolla_cli.py) are listed.
PINNED_VERSIONS: dict[int, str] = {22: "22.2.0"}

_UNSUPPORTED_MAJORS: dict[int, str] = {
    23: "kolla-ansible 23.x needs Python 3.12, and Ferry runs on Python 3.11",
    24: "kolla-ansible 24.x is not released yet",
}
_OLDER_CLI_REASON = (
    "kolla-ansible {major}.x builds its ansible-playbook command differently from 22.x (older "
    "releases name the playbooks mariadb_backup.yml and mariadb_recovery.yml, set no kolla_action "
    "for post-deploy, and 18.x and older ship a shell script), so Ferry cannot run it yet"
)

_MARKER = ".ferry-installed"
#: Where in a kolla-ansible virtualenv Ferry keeps the Ansible collections that release's
#: ``kolla-ansible install-deps`` installs: each release sees its own, never another's.
COLLECTIONS_DIR = Path("share") / "ferry-collections"
#: The requirement files ``kolla-ansible install-deps`` reads from its share directory (22.x:
#: kolla_ansible.ansible.install_galaxy_collections), in the order it installs them.
REQUIREMENT_FILES = ("requirements.yml", "requirements-core.yml")


class KollaError(Exception):
    """A kolla-ansible version that Ferry cannot install or drive."""


class KollaInstallError(KollaError):
    """Installing kolla-ansible into its virtualenv failed."""


def kolla_major_for(series: str) -> int:
    """Return the kolla-ansible major version that deploys release series SERIES (e.g. 2026.1 -> 22)."""
    try:
        return KOLLA_MAJOR_BY_SERIES[series]
    except KeyError:
        if series in SERIES_NAMES:
            raise KollaError(
                f"release series {series} predates kolla-ansible, whose first release (4.0.0) "
                "deployed Ocata (2017.1)"
            ) from None
        known = ", ".join(KOLLA_MAJOR_BY_SERIES)
        raise KollaError(f"unknown release series {series!r} (known: {known})") from None


def kolla_version_for(series: str) -> str:
    """Return the exact kolla-ansible version Ferry installs for SERIES, or raise KollaError why not."""
    major = kolla_major_for(series)
    if major in PINNED_VERSIONS:
        return PINNED_VERSIONS[major]
    reason = _UNSUPPORTED_MAJORS.get(major) or _OLDER_CLI_REASON.format(major=major)
    raise KollaError(f"release series {series} needs kolla-ansible {major}.x: {reason}")


@dataclass(frozen=True)
class KollaInstall:
    """One kolla-ansible release installed in its own virtualenv, with its own collections directory
    (``<venv>/share/ferry-collections`` unless given)."""

    version: str
    venv: Path
    bin: Path
    share_dir: Path
    playbooks_dir: Path
    collections_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.collections_dir is None:
            object.__setattr__(self, "collections_dir", self.venv / COLLECTIONS_DIR)

    @property
    def major(self) -> int:
        """The major version number, e.g. 22."""
        return int(self.version.split(".", 1)[0])

    @property
    def ansible_playbook(self) -> Path:
        """The ansible-playbook of this virtualenv: the only one that can import kolla's plugins."""
        return self.bin / "ansible-playbook"

    @property
    def kolla_ansible(self) -> Path:
        """The kolla-ansible CLI of this virtualenv."""
        return self.bin / "kolla-ansible"

    @property
    def requirement_files(self) -> list[Path]:
        """The collection requirement files that this release's ``install-deps`` installs."""
        return [self.share_dir / name for name in REQUIREMENT_FILES if (self.share_dir / name).is_file()]

    @property
    def install_deps(self) -> list[str]:
        """``kolla-ansible install-deps`` of this virtualenv, as an argument vector."""
        return [str(self.kolla_ansible), "install-deps"]

    def ansible_env(self) -> dict[str, str]:
        """The environment every ansible-playbook and ansible-galaxy of this release runs with: its
        collections directory as the only collections path. Without it Ansible would also read
        ``~/.ansible/collections``, ``/usr/share/ansible/collections`` and any ``ansible_collections``
        on its ``sys.path``, so one release's playbooks could pick up another's collections; and
        ``install-deps``, which passes no ``--collections-path``, installs into the first entry."""
        return {
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections_dir),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
        }

    def example_inventory(self, name: str) -> Path:
        """Path of an inventory shipped with kolla-ansible: `multinode` or `all-in-one`."""
        if name not in ("multinode", "all-in-one"):
            raise ValueError(f"kolla-ansible ships no inventory named {name!r}")
        return self.playbooks_dir / "inventory" / name


def _install_for(version: str, venv: Path) -> KollaInstall:
    # kolla-ansible finds its playbooks from the real path of its own module (see
    # kolla_ansible.utils._detect_install_prefix), so resolve symlinks the same way to name the
    # very same playbook paths as its CLI.
    share_dir = Path(os.path.realpath(venv)) / "share" / "kolla-ansible"
    return KollaInstall(
        version=version,
        venv=venv,
        bin=venv / "bin",
        share_dir=share_dir,
        playbooks_dir=share_dir / "ansible",
    )


def _is_complete(install: KollaInstall) -> bool:
    marker = install.venv / _MARKER
    return (
        marker.is_file()
        and marker.read_text().strip() == install.version
        and (install.playbooks_dir / "site.yml").is_file()
        and install.kolla_ansible.is_file()
    )


def _find_uv() -> str | None:
    sibling = Path(sys.executable).parent / "uv"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("uv")


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise KollaInstallError(f"{' '.join(argv)} exited {proc.returncode}: {tail}")


def _create_venv(venv: Path, version: str, python: str) -> None:
    requirement = f"kolla-ansible=={version}"
    uv = _find_uv()
    if uv:
        _run([uv, "venv", "--quiet", "--python", python, str(venv)])
        _run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), requirement])
    else:
        _run([python, "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, requirement])


def default_cache_dir() -> Path:
    """Where Ferry keeps its kolla-ansible virtualenvs: ``$FERRY_VAR_DIR/kolla`` (default ``var/kolla``)."""
    return Path(os.environ.get("FERRY_VAR_DIR") or REPO / "var") / "kolla"


def installed(version: str = DEFAULT_VERSION, *, base: Path) -> KollaInstall | None:
    """The finished install of kolla-ansible VERSION under BASE, or None; never installs."""
    install = _install_for(version, Path(base) / f"kolla-ansible-{version}")
    return install if _is_complete(install) else None


def ensure_kolla_ansible(
    version: str = DEFAULT_VERSION, *, base: Path, python: str | None = None
) -> KollaInstall:
    """Install kolla-ansible VERSION into `BASE/kolla-ansible-VERSION/` unless already there.

    Safe to call from several processes at once: a file lock serialises the install, and a
    marker written last tells a finished install from one that was interrupted (which is
    removed and redone). PYTHON is the interpreter for the virtualenv (default: this one).
    """
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise KollaError(f"not a kolla-ansible release version: {version!r}")
    base = Path(base)
    venv = base / f"kolla-ansible-{version}"
    install = _install_for(version, venv)
    if _is_complete(install):
        return install
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".kolla-ansible-{version}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(install):
            return install
        if venv.exists():
            shutil.rmtree(venv)
        try:
            _create_venv(venv, version, python or sys.executable)
            if not (install.playbooks_dir / "site.yml").is_file():
                raise KollaInstallError(
                    f"kolla-ansible {version} installed no playbooks in {install.share_dir}"
                )
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        tmp = venv / f"{_MARKER}.tmp"
        tmp.write_text(version + "\n")
        tmp.replace(venv / _MARKER)
    return install


@dataclass(frozen=True)
class _Action:
    playbook: str
    variables: tuple[tuple[str, str], ...]


# What each kolla-ansible 22 command passes (kolla_ansible/cli/commands.py). Note that the
# CLI's action names and kolla_action values differ for several commands.
_ACTIONS: dict[str, _Action] = {
    "prechecks": _Action("site", (("kolla_action", "precheck"),)),
    "pull": _Action("site", (("kolla_action", "pull"),)),
    "deploy": _Action("site", (("kolla_action", "deploy"),)),
    "reconfigure": _Action("site", (("kolla_action", "reconfigure"), ("kolla_serial", "0"))),
    "upgrade": _Action("site", (("kolla_action", "upgrade"), ("kolla_serial", "0"))),
    "check": _Action("site", (("kolla_action", "check"),)),
    "stop": _Action("site", (("kolla_action", "stop"),)),
    "genconfig": _Action("site", (("kolla_action", "config"),)),
    "validate-config": _Action("site", (("kolla_action", "config_validate"),)),
    "bootstrap-servers": _Action(
        "kolla-host", (("kolla_action", "bootstrap-servers"), ("ansible_python_interpreter", "auto_silent"))
    ),
    "post-deploy": _Action("post-deploy", (("kolla_action", "post-deploy"),)),
    "mariadb-backup": _Action("mariadb-backup", (("kolla_action", "backup"),)),
    "mariadb-recovery": _Action("mariadb-recovery", (("kolla_action", "deploy"),)),
    "rabbitmq-reset-state": _Action("rabbitmq-reset-state", (("kolla_action", "rabbitmq-reset-state"),)),
    "destroy": _Action("destroy", (("kolla_action", "destroy"),)),
}

#: The kolla-ansible actions `build_invocation` knows.
ACTIONS: tuple[str, ...] = tuple(_ACTIONS)

_SIMPLE_VALUE = re.compile(r"[^\s'\"\\]*")


@dataclass(frozen=True)
class Invocation:
    """An ansible-playbook command line, as kolla-ansible would build it for one action."""

    action: str
    executable: Path
    playbook: Path
    inventories: tuple[str, ...]
    extra_vars: tuple[str, ...]
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    verbosity: int = 0
    become: bool = False
    check: bool = False
    diff: bool = False
    vault_ids: tuple[str, ...] = ()
    vault_password_files: tuple[str, ...] = ()

    @property
    def args(self) -> list[str]:
        """The arguments after `ansible-playbook`, in the order of kolla_ansible.ansible.build_args."""
        args: list[str] = []
        if self.verbosity:
            args.append("-" + "v" * self.verbosity)
        for inventory in self.inventories:
            args += ["--inventory", inventory]
        # kolla-ansible puts the vault options between passwords.yml and globals.d.
        head, rest = self.extra_vars[:2], self.extra_vars[2:]
        for value in head:
            args += ["-e", value]
        for vault_id in self.vault_ids:
            args += ["--vault-id", vault_id]
        for vault_file in self.vault_password_files:
            args += ["--vault-password-file", vault_file]
        for value in rest:
            args += ["-e", value]
        for flag, on in (("--become", self.become), ("--check", self.check), ("--diff", self.diff)):
            if on:
                args.append(flag)
        for option, value in (
            ("--limit", self.limit),
            ("--skip-tags", self.skip_tags),
            ("--tags", self.tags),
        ):
            if value:
                args += [option, value]
        args.append(str(self.playbook))
        return args

    @property
    def argv(self) -> list[str]:
        """The whole command: the virtualenv's ansible-playbook followed by `args`."""
        return [str(self.executable), *self.args]


def _extra_var_arg(name: str, value: Any) -> str:
    # kolla-ansible passes `-e key=value`, which Ansible always reads as a string; anything that
    # would not survive that form (other types, spaces, quotes) goes as JSON so it arrives intact.
    if isinstance(value, str) and _SIMPLE_VALUE.fullmatch(value):
        return f"{name}={value}"
    return json.dumps({name: value}, sort_keys=True)


def _globals_d(config_dir: str) -> list[str]:
    vars_dir = os.path.join(config_dir, "globals.d")
    if not os.path.isdir(vars_dir):
        return []
    found = []
    for name in os.listdir(vars_dir):
        path = os.path.join(vars_dir, name)
        if (
            os.path.isfile(path)
            and os.access(path, os.R_OK)
            and os.path.splitext(name)[1]
            in (
                ".yml",
                ".yaml",
                ".json",
            )
        ):
            found.append(path)
    return sorted(found)


def _only_for(action: str, wanted: str, option: str, given: bool) -> None:
    if given and action != wanted:
        raise ValueError(f"{option} applies to {wanted}, not to {action}")


def build_invocation(
    action: str,
    *,
    install: KollaInstall,
    inventory: Path | str | Sequence[Path | str],
    config_dir: Path | str,
    extra_vars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    verbosity: int = 0,
    become: bool = False,
    check: bool = False,
    diff: bool = False,
    backup_type: str | None = None,
    use_test_images: bool = False,
    ignore_missing: bool = False,
    include_dev: bool = False,
    include_images: bool = False,
    vault_ids: Sequence[str] = (),
    vault_password_files: Sequence[str] = (),
) -> Invocation:
    """Build the ansible-playbook command that `kolla-ansible ACTION` runs with the same options.

    INVENTORY and CONFIG_DIR are what `-i` and `--configdir` would be; EXTRA_VARS what `-e`
    would pass (before the action's own variables, so these cannot override kolla_action).
    Action options: BACKUP_TYPE (`full`, the default, or `incremental`) for mariadb-backup,
    USE_TEST_IMAGES for prechecks, IGNORE_MISSING for stop, INCLUDE_DEV and INCLUDE_IMAGES for
    destroy. The `--yes-i-really-really-mean-it` guard of stop and destroy is not modelled:
    Ferry asks for that through its approvals.
    """
    if action not in _ACTIONS:
        raise ValueError(f"unknown kolla-ansible action {action!r} (known: {', '.join(ACTIONS)})")
    if install.major != 22:
        raise KollaError(f"build_invocation reproduces the kolla-ansible 22 CLI, not {install.version}")
    _only_for(action, "mariadb-backup", "backup_type", backup_type is not None)
    _only_for(action, "prechecks", "use_test_images", use_test_images)
    _only_for(action, "stop", "ignore_missing", ignore_missing)
    _only_for(action, "destroy", "include_dev", include_dev)
    _only_for(action, "destroy", "include_images", include_images)
    if backup_type not in (None, "full", "incremental"):
        raise ValueError(f"backup_type must be 'full' or 'incremental', not {backup_type!r}")
    if verbosity < 0:
        raise ValueError("verbosity cannot be negative")

    spec = _ACTIONS[action]
    action_vars = dict(spec.variables)
    if action == "prechecks" and use_test_images:
        action_vars["kolla_test_images"] = "yes"
    elif action == "stop":
        action_vars["kolla_action_stop_ignore_missing"] = "yes" if ignore_missing else "no"
    elif action == "destroy":
        action_vars["destroy_include_dev"] = "yes" if include_dev else "no"
        action_vars["destroy_include_images"] = "yes" if include_images else "no"
    elif action == "mariadb-backup":
        action_vars["mariadb_backup_type"] = backup_type or "full"
    user_vars = dict(extra_vars or {})
    if "ansible_python_interpreter" in user_vars:
        # kolla-ansible leaves an interpreter given with -e alone.
        action_vars.pop("ansible_python_interpreter", None)

    # os.path.abspath, not Path.resolve: kolla-ansible does not resolve symlinks in the config dir.
    config = os.path.abspath(config_dir)
    values = [f"@{os.path.join(config, 'globals.yml')}", f"@{os.path.join(config, 'passwords.yml')}"]
    values += [f"@{path}" for path in _globals_d(config)]
    values += [_extra_var_arg(name, value) for name, value in user_vars.items()]
    values += [f"{name}={value}" for name, value in action_vars.items()]
    values.append(f"CONFIG_DIR={config}")

    inventories = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    playbook = install.playbooks_dir / f"{spec.playbook}.yml"
    if not playbook.is_file():
        raise KollaError(f"kolla-ansible {install.version} has no playbook {playbook}")
    return Invocation(
        action=action,
        executable=install.ansible_playbook,
        playbook=playbook,
        inventories=tuple(str(path) for path in inventories),
        extra_vars=tuple(values),
        limit=limit,
        tags=tags,
        skip_tags=skip_tags,
        verbosity=verbosity,
        become=become,
        check=check,
        diff=diff,
        vault_ids=tuple(vault_ids),
        vault_password_files=tuple(vault_password_files),
    )


def cli_command(
    action: str,
    *,
    extra_vars: Mapping[str, Any] | None = None,
    limit: str = "",
    tags: str = "",
    inventory: str = "/etc/kolla/multinode",
    ferry_playbook: str | None = None,
    config_dir: str = DEFAULT_CONFIG_DIR,
) -> str:
    """The command line an operator would type for a step: ``kolla-ansible ACTION …``.

    A ``config_dir`` other than kolla's default ``/etc/kolla`` is named with ``--configdir``: kolla
    reads globals.yml, passwords.yml, globals.d/, config/ and certificates/ from it.
    ``mariadb_backup_type`` becomes ``--full``/``--incremental`` and ``stop`` carries kolla's
    confirmation flag, as the CLI wants them; other variables are ``-e`` arguments. A step kolla
    has no command for (``ferry_playbook``) is the ``ansible-playbook`` line of Ferry's playbook, with
    the cloud's globals.yml (for ``kolla_container_engine``) as the kolla-ansible backend runs it.
    """
    variables = kolla_extra_vars(extra_vars or {})
    backup_type = variables.pop("mariadb_backup_type", None)
    if ferry_playbook:
        argv = ["ansible-playbook", "-i", inventory, "-e", f"@{os.path.join(config_dir, 'globals.yml')}"]
    else:
        if action not in _ACTIONS:
            raise KollaError(f"unknown kolla-ansible action {action!r}")
        argv = ["kolla-ansible", action, "-i", inventory]
        if config_dir != DEFAULT_CONFIG_DIR:
            argv += ["--configdir", config_dir]
        if action == "mariadb-backup":
            argv.append(f"--{backup_type or 'full'}")
        if action in {"stop", "destroy"}:
            argv.append("--yes-i-really-really-mean-it")
    for name, value in variables.items():
        argv += ["-e", _extra_var_arg(name, value)]
    if tags:
        argv += ["--tags", tags]
    if limit:
        argv += ["--limit", limit]
    if ferry_playbook:
        argv.append(ferry_playbook)
    return shlex.join(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m runner.kolla [--version V] [--base DIR]``: install kolla-ansible once (``make kolla``)."""
    parser = argparse.ArgumentParser(prog="python -m runner.kolla", description=main.__doc__)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="release (default %(default)s)")
    parser.add_argument("--base", type=Path, default=None, help="cache directory (default: var/kolla)")
    args = parser.parse_args(argv)
    install = ensure_kolla_ansible(args.version, base=args.base or default_cache_dir())
    print(f"kolla-ansible {install.version} in {install.venv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
