"""Fixtures of the audit tests: a PostgreSQL-only guard, and entries to check."""

from __future__ import annotations

import os

import pytest
from django.db import connection


@pytest.fixture
def postgresql(db):
    """Skip on SQLite (the trigger and the advisory lock are PostgreSQL's), unless
    FERRY_REQUIRE_SERVICES forbids skipping: then fail."""
    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (DATABASE_URL=postgres://…)"
        if os.environ.get("FERRY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " and FERRY_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)


@pytest.fixture
def entries(db, operator):
    """Five chained entries."""
    from apps.audit.services import record

    return [record(operator, f"test.step{n}", detail={"n": n, "note": "é ✓"}) for n in range(5)]
