"""Approvers approving at once on PostgreSQL, each request in its own thread and connection: the
job's row lock counts them one after the other, and the job is queued once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.approvals.models import Approval
from apps.audit.models import AuditEntry
from apps.jobs.models import JobState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def approve_at_once(job, users) -> list[int]:
    barrier = threading.Barrier(len(users))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def approve(user) -> None:
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait(timeout=30)
            statuses.append(client.post(f"/api/jobs/{job.pk}/approve/", {}, format="json").status_code)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return sorted(statuses)


@pytest.mark.parametrize(("required", "approvers"), [(1, 3), (2, 4)])
def test_concurrent_approvals_count_to_the_threshold_and_queue_once(
    postgresql, api_as, admin_user, awaiting, no_worker, required, approvers
):
    api_as(admin_user).put(
        "/api/clouds/demo/approval-policy/", {"approvals_required": required}, format="json"
    )
    users = [UserFactory(username=f"approver-{n}", role="approver") for n in range(approvers)]
    statuses = approve_at_once(awaiting, users)
    awaiting.refresh_from_db()
    assert awaiting.state == JobState.QUEUED
    assert statuses == [200] * required + [400] * (approvers - required)
    assert Approval.objects.filter(job=awaiting).count() == required
    queued = [e for e in AuditEntry.objects.filter(action="job.approved") if e.detail["released"]]
    assert len(queued) == 1
    assert no_worker.count(("dispatch", None)) == 1
