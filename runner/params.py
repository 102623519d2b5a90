"""Job parameters as declared data: each kind lists its parameters, and each value is checked here.

What a person types is data. Every parameter has a type that says which values it takes, so a
value that reaches Ansible is a release the catalog knows, a cell or host of the cloud, a number
in range, or text of a narrow alphabet; anything else is refused with the parameter's name.
Values are cleaned to their canonical form (a release is the catalog's series string, not the
text that was sent). Free text that does reach Ansible is also passed as unsafe, so Ansible
never templates it (see ``runner.execute``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# Labels and backup names: what a file name and a log line can hold without quoting.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Lab failure injection names an action, or an action and a service: `deploy`, `upgrade:nova`.
ACTION_RE = re.compile(r"[a-z][a-z0-9-]*(:[a-z0-9][a-z0-9_-]*)?")
MAX_LIST = 1000
MAX_TEXT = 200


def ansible_bool(value: Any) -> bool:
    """What Ansible's ``| bool`` makes of a globals.yml value (``yes``, ``on``, ``true``, ``1``…)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"yes", "on", "true", "1", "y", "t"}


class ParamError(ValueError):
    """A parameter's value is refused; ``field`` names it and the message says why."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class BackupInfo:
    """A backup of the cloud as Ferry recorded it: enough to check a restore and to name it."""

    id: int
    kind: str
    state: str
    name: str
    release: str = ""
    label: str = ""
    taken_at: str = ""
    parent_id: int | None = None
    job_kind: str = ""  # the kind of job that took it ("" when no job of Ferry's did)
    includes_config: bool = False  # Ferry archived the cloud's configuration with it
    taken: datetime | None = None  # taken_at as a time, to say how long ago
    sha256: str = ""
    node: str = ""  # the database node it was taken on, where a restore puts it back
    store_path: str = ""  # Ferry's copy: a directory holding ``data``, under FERRY_BACKUP_DIR
    # An incremental backup's base, oldest first: its full parent, then the increments between them.
    base: tuple[BackupInfo, ...] = ()

    @property
    def title(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"backup #{self.id} ({self.kind}{label}, {self.taken_at})"

    @property
    def chain(self) -> tuple[BackupInfo, ...]:
        """What a restore applies, in order: the full backup, then each increment up to this one."""
        return (*self.base, self)


def backup_chain(backup: BackupInfo, backups: Mapping[int, BackupInfo]) -> BackupInfo:
    """``backup`` with its ``base`` filled in from ``backups``: its full parent and earlier increments.

    mariabackup bases each increment on the backup before it, so an incremental restore needs the full
    parent and every increment of that parent taken before this one (Ferry records them in order).
    """
    if backup.kind != "incremental":
        return backup
    parent = backups.get(backup.parent_id) if backup.parent_id else None
    if parent is None:
        return replace(backup, base=())
    earlier = sorted(
        (b for b in backups.values() if b.parent_id == parent.id and b.kind == "incremental"),
        key=lambda b: b.id,
    )
    earlier = [b for b in earlier if b.id < backup.id]
    return replace(backup, base=(parent, *earlier))


@dataclass(frozen=True)
class CloudFacts:
    """What parameter checks may look up: the catalog's series, the cloud's cells, hosts and backups."""

    releases: Sequence[str] = ()
    cells: Sequence[str] = ()
    hosts: Sequence[str] = ()
    backups: Mapping[int, BackupInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """One parameter of a job kind: its name, type, whether it must be given, and what it is for.

    ``kind`` names the type (``release``, ``cell``, ``choice``, ``name``, ``number``, ``boolean``,
    ``hosts``, ``host-actions``, ``overrides``, ``backup``); ``choices`` is the fixed list of a
    ``choice``; ``source`` says where the choices of the other types come from, for forms and the
    API schema.
    """

    name: str
    kind: str
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    minimum: float = 0
    maximum: float = 0
    max_length: int = 64
    backend: str = ""  # only this backend takes the parameter ("" = every backend)

    @property
    def free_text(self) -> bool:
        """Whether the value is text a person wrote (passed to Ansible unsafe), not one of a known set."""
        return self.kind in {"name", "overrides"}

    @property
    def source(self) -> str:
        """Where the valid values come from, in words a form or a schema can show."""
        return {
            "release": "the release catalog",
            "cell": "the cloud's cells",
            "hosts": "the cloud's hosts",
            "host-actions": "the cloud's hosts",
            "choice": ", ".join(self.choices),
            "backup": "the cloud's verified backups",
        }.get(self.kind, "")

    def clean(self, value: Any, facts: CloudFacts) -> Any:
        """The canonical value, or a :class:`ParamError` naming this parameter."""
        try:
            return CHECKS[self.kind](self, value, facts)
        except ParamError:
            raise
        except (TypeError, ValueError) as exc:
            raise ParamError(self.name, str(exc)) from None


def clean_params(
    declared: Sequence[Param], params: Mapping[str, Any], facts: CloudFacts, backend: str = ""
) -> dict[str, Any]:
    """Check every value of ``params`` against ``declared``; unknown names and missing ones are refused.

    An empty value (``None`` or ``""``) counts as not given, as from a form's empty field.
    """
    if not isinstance(params, Mapping):
        raise ParamError("params", "must be an object of parameter names and values")
    by_name = {p.name: p for p in declared}
    unknown = sorted(str(k)[:64] for k in params if k not in by_name)
    if unknown:
        allowed = ", ".join(sorted(by_name)) or "none"
        raise ParamError(unknown[0], f"unknown parameter; this kind takes: {allowed}")
    cleaned: dict[str, Any] = {}
    for param in declared:
        value = params.get(param.name)
        if value is None or value == "":
            if param.required:
                raise ParamError(param.name, f"required: {param.help}")
            if param.default is not None:
                cleaned[param.name] = param.default
            continue
        if param.backend and backend and backend != param.backend:
            raise ParamError(param.name, f"only the {param.backend} backend takes this parameter")
        cleaned[param.name] = param.clean(value, facts)
    return cleaned


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"at most {limit} characters (got {len(value)})")
    return value


def _one_of(param: Param, value: Any, allowed: Sequence[str], what: str) -> str:
    text = _text(value, MAX_TEXT)
    if text not in allowed:
        shown = ", ".join(allowed[:20]) + (" …" if len(allowed) > 20 else "")
        raise ParamError(param.name, f"{text!r} is not {what}; one of: {shown or 'none'}")
    return text


def _release(param: Param, value: Any, facts: CloudFacts) -> str:
    return _one_of(param, value, list(facts.releases), "a release series of the catalog")


def _cell(param: Param, value: Any, facts: CloudFacts) -> str:
    return _one_of(param, value, list(facts.cells), "a cell of this cloud")


def _choice(param: Param, value: Any, facts: CloudFacts) -> str:
    return _one_of(param, value, list(param.choices), "allowed")


def _name(param: Param, value: Any, facts: CloudFacts) -> str:
    text = _text(value, param.max_length)
    if not NAME_RE.fullmatch(text):
        raise ParamError(
            param.name, "letters, digits, '.', '_' and '-' only, starting with a letter or digit"
        )
    return text


def _boolean(param: Param, value: Any, facts: CloudFacts) -> bool:
    """True or false, also as a form or query string sends it (``on``, ``true``, ``1``, ``false``…)."""
    if isinstance(value, bool):
        return value
    text = _text(value, 8).strip().lower()
    if text in {"true", "on", "yes", "1"}:
        return True
    if text in {"false", "off", "no", "0"}:
        return False
    raise ValueError("must be true or false")


def _backup(param: Param, value: Any, facts: CloudFacts) -> int:
    """A verified backup of this cloud by id; an incremental one needs its full parent verified too."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError("must be the id of one of this cloud's backups")
    backup = facts.backups.get(int(value))
    if backup is None:
        raise ValueError(f"there is no backup #{value} of this cloud")
    if backup.state != "verified":
        raise ValueError(f"backup #{backup.id} is {backup.state}, not verified: it cannot be restored")
    if backup.kind == "incremental":
        parent = facts.backups.get(backup.parent_id) if backup.parent_id else None
        if parent is None or parent.state != "verified":
            raise ValueError(f"incremental backup #{backup.id} has no verified full backup to apply it to")
        broken = [b for b in backup_chain(backup, facts.backups).base if b.state != "verified"]
        if broken:
            raise ValueError(
                f"incremental backup #{backup.id} needs backup #{broken[0].id}, which is {broken[0].state}"
            )
    return backup.id


def _number(param: Param, value: Any, facts: CloudFacts) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        raise ValueError("must be a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("must be a finite number")
    if not param.minimum <= number <= param.maximum:
        raise ValueError(f"must be between {param.minimum:g} and {param.maximum:g}")
    return int(number) if float(number).is_integer() else float(number)


def _host_list(param: Param, value: Any, facts: CloudFacts) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise ValueError(f"must be a list of at most {MAX_LIST} host names")
    known = set(facts.hosts)
    for host in value:
        if not isinstance(host, str) or host not in known:
            raise ParamError(param.name, f"{str(host)[:MAX_TEXT]!r} is not a host of this cloud")
    return list(value)


def _host_actions(param: Param, value: Any, facts: CloudFacts) -> dict[str, list[str]]:
    if not isinstance(value, Mapping) or len(value) > MAX_LIST:
        raise ValueError('must map host names to lists of actions, e.g. {"control01": ["deploy"]}')
    hosts = _host_list(param, list(value), facts)
    cleaned = {}
    for host in hosts:
        actions = value[host]
        if not isinstance(actions, list) or len(actions) > 100:
            raise ParamError(param.name, f"{host}: must be a list of actions")
        for action in actions:
            if not isinstance(action, str) or not ACTION_RE.fullmatch(action[:MAX_TEXT]):
                raise ParamError(param.name, f"{host}: {str(action)[:MAX_TEXT]!r} is not an action")
        cleaned[host] = list(actions)
    return cleaned


def _overrides(param: Param, value: Any, facts: CloudFacts) -> dict[str, Any]:
    """``{project or service: {section: {key: scalar}}}``: three levels of names, then a value."""
    if not isinstance(value, Mapping) or len(value) > 100:
        raise ValueError("must map services to sections to keys and values")
    cleaned: dict[str, Any] = {}
    for service, sections in value.items():
        _name(param, service, facts)
        if not isinstance(sections, Mapping) or len(sections) > 100:
            raise ParamError(param.name, f"{service}: must map sections to keys and values")
        cleaned[service] = {}
        for section, keys in sections.items():
            _name(param, section, facts)
            if not isinstance(keys, Mapping) or len(keys) > 100:
                raise ParamError(param.name, f"{service}.{section}: must map keys to values")
            for key, item in keys.items():
                _name(param, key, facts)
                if not isinstance(item, str | int | float | bool) or len(str(item)) > MAX_TEXT:
                    raise ParamError(param.name, f"{service}.{section}.{key}: must be a short scalar")
            cleaned[service][section] = dict(keys)
    return cleaned


CHECKS: dict[str, Callable[[Param, Any, CloudFacts], Any]] = {
    "release": _release,
    "cell": _cell,
    "choice": _choice,
    "name": _name,
    "number": _number,
    "boolean": _boolean,
    "backup": _backup,
    "hosts": _host_list,
    "host-actions": _host_actions,
    "overrides": _overrides,
}
