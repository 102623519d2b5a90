"""Publishing a job's live updates to its channel group (events, steps, state, host totals)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def group_for(job_id: int) -> str:
    """The channel group live output of job ``job_id`` goes to."""
    return f"job.{job_id}"


def publish(job_id: int, message: dict) -> None:
    """Send ``message`` (with a ``kind`` key) to everyone watching the job.

    Publishing is best effort: the database is the record, and a client that
    missed a message resumes from its last position.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_for(job_id), {"type": "job.update", "message": message})
    except Exception:  # a channel layer outage must never fail the job itself
        log.warning("could not publish %s update of job %s", message.get("kind"), job_id, exc_info=True)


def event_payload(row) -> dict:
    """The compact form of a stored event that clients draw (details come from the API)."""
    return {
        "seq": row.seq,
        "step": row.step_id,
        "counter": row.counter,
        "event": row.event,
        "host": row.host,
        "task": row.task,
        "stdout": row.stdout,
        "created": row.created.isoformat() if row.created else None,
    }
