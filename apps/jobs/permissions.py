"""The one permission check for jobs: a job is seen and acted on through its cloud."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.clouds.permissions import CloudAction, can, clouds_for
from apps.jobs.models import Job

# Ids and event positions are PostgreSQL bigints: a larger number names nothing.
MAX_BIGINT = 2**63 - 1


def parse_number(raw: str) -> int | None:
    """RAW as a job id or event position (0 to MAX_BIGINT, ASCII digits only), else None."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > MAX_BIGINT:
        return None
    return int(raw)


def jobs_for(user):
    """Jobs of the clouds ``user`` may see."""
    return Job.objects.filter(cloud__in=clouds_for(user))


def get_job_for(user, job_id: int, action: CloudAction = CloudAction.VIEW) -> Job:
    """Fetch a job for ``user``: 404 if they may not see its cloud, 403 if they may not do ``action``."""
    job = jobs_for(user).select_related("cloud", "requested_by").filter(pk=job_id).first()
    if job is None:
        raise Http404(f"No job #{job_id} that you can see.")
    if not can(user, action, job.cloud):
        raise PermissionDenied(f"You need the operator role to {action.value} job #{job_id}.")
    return job


def may_view_job(user, job_id: int) -> bool:
    """Whether ``user`` may watch job ``job_id`` (used by the WebSocket consumer)."""
    return jobs_for(user).filter(pk=job_id).exists()
