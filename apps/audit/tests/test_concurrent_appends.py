"""Writers appending at once never fork the chain (PostgreSQL: a transaction-scoped advisory lock)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from apps.audit.models import AuditEntry
from apps.audit.services import record
from apps.audit.verify import verify_chain

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 6
EACH = 8


def test_concurrent_writers_keep_one_chain(postgresql):
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(EACH):
                # Each append in a transaction of its own that does a little more after it, as a
                # service does: the lock must be held until the commit, not only the insert.
                with transaction.atomic():
                    record(None, "test.concurrent", detail={"writer": n, "i": i})
                    AuditEntry.objects.filter(action="test.nothing").exists()
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert AuditEntry.objects.count() == WRITERS * EACH
    report = verify_chain()
    assert report.holds, report.problem
    assert report.checked == WRITERS * EACH
    # No two entries follow the same one: the chain did not fork.
    prev = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(set(prev)) == len(prev)
