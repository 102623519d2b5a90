"""Fixtures of the audit tests: a PostgreSQL-only guard, and entries to check."""

from __future__ import annotations

import pytest


@pytest.fixture
def entries(db, operator):
    """Five chained entries."""
    from apps.audit.services import record

    return [record(operator, f"test.step{n}", detail={"n": n, "note": "é ✓"}) for n in range(5)]
