"""The request builder the planner and parameter tests share.

``plan_request(kind, releases=..., **params)`` is a :class:`PlanRequest` for a cloud with two named
cells and MariaDB backups on; ``current``, ``hosts``, ``backend`` and ``backups`` describe the rest
of the cloud and every other keyword is a job parameter. A test module binds its release catalog
(and host list or backend) once with ``functools.partial`` and calls that ``request``.
"""

from __future__ import annotations

from collections.abc import Sequence

from runner.params import BackupInfo
from runner.planner import PlanRequest, ReleaseInfo


def plan_request(
    kind: str,
    *,
    releases: Sequence[ReleaseInfo],
    current: str | None = "2025.1",
    hosts: Sequence[str] = (),
    backend: str = "",
    backups: Sequence[BackupInfo] = (),
    **params: object,
) -> PlanRequest:
    """A plan request for a two-cell cloud at ``current`` whose job parameters are ``params``."""
    return PlanRequest(
        kind=kind,
        releases=list(releases),
        current_release=current,
        cells=["cell1", "cell2"],
        cell_groups={"cell1": "cell1", "cell2": "cell2"},
        params=params,
        hosts=list(hosts),
        backend=backend,
        backups=list(backups),
        mariabackup=True,
    )
