"""Which release each cell and host of a cloud runs.

A cell rollout moves nova a cell at a time, so while one runs (and after one that stopped part way)
a cloud's cells and hosts run different releases. The worker records what a succeeded step moved
here; the cloud's own release changes only when a whole job reached it (``ReleaseChange``).
"""

from __future__ import annotations

from django.db import transaction

from apps.audit.services import record
from apps.catalog.models import Release
from apps.clouds.models import Cell, Cloud, Host
from apps.clouds.services import cloud_inventory


def limit_hosts(cloud: Cloud, limit: str) -> set[str]:
    """The names of the hosts an Ansible ``--limit`` selects in ``cloud``'s inventory (all without one).

    Reads the patterns Ferry writes: names of groups, cells or hosts, comma-separated, where ``&x``
    keeps only the hosts also in ``x`` and ``!x`` drops those in ``x`` (``c1cmp01,c2cmp01,&cell1``).
    """
    inventory = cloud_inventory(cloud)
    if not limit.strip():
        return set(inventory.hosts)
    groups = dict(cloud.cells.values_list("name", "group"))
    members = inventory.group_members()

    def hosts(term: str) -> set[str]:
        term = groups.get(term, term)
        return set(members.get(term, ())) or ({term} & set(inventory.hosts))

    terms = [t.strip() for t in limit.split(",") if t.strip()]
    found: set[str] = set()
    for term in terms:
        if term[0] not in "&!":
            found |= hosts(term)
    for term in terms:
        if term[0] == "&":
            found &= hosts(term[1:])
        elif term[0] == "!":
            found -= hosts(term[1:])
    return found


@transaction.atomic
def record_running_release(
    actor, cloud: Cloud, series: str, *, limit: str = "", job_id: int | None = None
) -> None:
    """Record that the hosts a succeeded step moved now run ``series``.

    Those are the hosts its ``limit`` selects (every host of the cloud without one): a cell
    rollout's cell step moves one cell, a step that completes a release (deploy, an upgrade, a
    rollout's final check) the whole cloud. A cell runs ``series`` once every host in it does; a
    cell whose hosts run different releases has none. Writes one audit entry.
    """
    release = Release.objects.get(series=series)
    names = limit_hosts(cloud, limit)
    moved = Host.objects.filter(cloud=cloud, name__in=names)
    moved_count = moved.update(release=release)
    touched = Cell.objects.filter(cloud=cloud)
    if limit.strip():
        touched = touched.filter(pk__in=moved.values("cell_id"))
    cells_at = []
    # One job at a time holds a cloud, so nothing else moves these cells meanwhile.
    for cell in touched:
        running = set(cell.hosts.values_list("release_id", flat=True))
        now = release.pk if not running else (running.pop() if len(running) == 1 else None)
        if cell.release_id != now:
            Cell.objects.filter(pk=cell.pk).update(release_id=now)
        if now == release.pk:
            cells_at.append(cell.name)
    record(
        actor,
        "cloud.running_release",
        cloud,
        detail={"release": series, "hosts": moved_count, "cells": sorted(cells_at), "job": job_id},
    )
