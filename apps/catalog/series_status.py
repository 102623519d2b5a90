"""Release dates and statuses from openstack/releases' ``data/series_status.yaml``.

The file lists each series with its status when it was written, its initial release, and the
next phase with its date (or its end-of-life date). Loading it updates the catalog's releases,
so operators follow the community's calendar without a new Ferry release.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction

from apps.audit.services import record
from apps.catalog.models import Release, ReleaseStatus
from runner.yamlguard import YamlLimitError, YamlLimits, load_yaml

#: openstack/releases' words for a phase -> Ferry's status values.
STATUS_WORDS: dict[str, str] = {
    "future": ReleaseStatus.FUTURE,
    "development": ReleaseStatus.DEVELOPMENT,
    "maintained": ReleaseStatus.MAINTAINED,
    "extended maintenance": ReleaseStatus.EXTENDED,
    "unmaintained": ReleaseStatus.UNMAINTAINED,
    "end of life": ReleaseStatus.EOL,
    "end-of-life": ReleaseStatus.EOL,
}
# The real file is some 20 kB; a generous bound keeps a wrong file from costing anything.
_LIMITS = YamlLimits(max_bytes=1_000_000, max_depth=8)


class SeriesStatusError(ValueError):
    """The file is not in series_status.yaml's format; the message names the entry and field."""


@dataclass
class SeriesStatusReport:
    """What loading a series_status file changed, and what it could not match."""

    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def parse_series_status(text: str) -> dict[str, dict[str, Any]]:
    """Map each entry of a series_status.yaml text to Release fields, keyed by series or lower-case name."""
    try:
        data = load_yaml(text, _LIMITS)
    except (YamlLimitError, yaml.YAMLError) as error:
        raise SeriesStatusError(f"not a YAML file Ferry reads: {error}") from None
    if not isinstance(data, list):
        raise SeriesStatusError("the file must be a list of series, as openstack/releases writes it")
    entries: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise SeriesStatusError(f"entry {index + 1}: each series needs a name")
        label = entry["name"]
        key = str(entry.get("release-id") or label.lower())
        phase = entry.get("next-phase") or {}
        if not isinstance(phase, dict):
            raise SeriesStatusError(f"{label}: next-phase must be a mapping")
        entries[key] = {
            "released_on": _date(entry.get("initial-release"), label, "initial-release"),
            "status": _status(entry.get("status"), label, "status"),
            "next_status": _status(phase["status"], label, "next-phase") if phase.get("status") else "",
            "next_status_on": _date(phase.get("date"), label, "next-phase.date"),
            "eol_on": _date(entry.get("eol-date"), label, "eol-date"),
        }
    return entries


def _status(value: Any, label: str, where: str) -> str:
    word = str(value or "").strip().lower()
    if word not in STATUS_WORDS:
        known = ", ".join(sorted(STATUS_WORDS))
        raise SeriesStatusError(f"{label}: {where} {value!r} is not a phase Ferry knows ({known})")
    return STATUS_WORDS[word]


def _date(value: Any, label: str, where: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise SeriesStatusError(f"{label}: {where} {value!r} is not a date (YYYY-MM-DD)") from None


def load_series_status(actor, text: str, *, dry_run: bool = False) -> SeriesStatusReport:
    """Update the releases' dates and statuses from a series_status.yaml text; all or nothing.

    Entries match a release by ``release-id`` (the series) or by name. Series the catalog does
    not have are reported, not created: a new series needs its kolla-ansible and SLURP facts.
    Each changed release gets an audit entry with the fields before and after.
    """
    entries = parse_series_status(text)
    report = SeriesStatusReport()
    releases = {r.series: r for r in Release.objects.all()}
    by_name = {r.name.lower(): r for r in releases.values()}
    with transaction.atomic():
        for key, values in entries.items():
            release = releases.get(key) or by_name.get(key)
            if release is None:
                report.unknown.append(key)
                continue
            diff = {
                name: (getattr(release, name), value)
                for name, value in values.items()
                if getattr(release, name) != value
            }
            if not diff:
                report.unchanged.append(release.series)
                continue
            report.changed[release.series] = diff
            if dry_run:
                continue
            for name, (_, value) in diff.items():
                setattr(release, name, value)
            release.save(update_fields=list(diff))
            record(
                actor,
                "release.lifecycle_loaded",
                release,
                detail={
                    "before": {name: _plain(old) for name, (old, _) in diff.items()},
                    "after": {name: _plain(new) for name, (_, new) in diff.items()},
                },
            )
    return report


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value


__all__ = ["SeriesStatusError", "SeriesStatusReport", "load_series_status", "parse_series_status"]
