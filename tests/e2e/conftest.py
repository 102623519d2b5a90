"""Fixtures that start Ferry for real: embedded, and in production shape.

The production shape needs PostgreSQL (``DATABASE_URL``) and Redis
(``REDIS_URL``). Where they are not configured the tests are skipped, except
when ``FERRY_REQUIRE_SERVICES=1`` (CI sets it): then a missing service fails
the run instead of hiding it.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.stack import Stack


def _required() -> bool:
    return os.environ.get("FERRY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def _production_urls() -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    missing = [
        name
        for name, value, schemes in (
            ("DATABASE_URL", database_url, ("postgres://", "postgresql://")),
            ("REDIS_URL", redis_url, ("redis://",)),
        )
        if not value.startswith(schemes)
    ]
    if missing:
        message = f"production-shape tests need {' and '.join(missing)} (PostgreSQL / Redis)"
        if _required():
            pytest.fail(message + " and FERRY_REQUIRE_SERVICES=1 forbids skipping them")
        pytest.skip(message)
    return database_url, redis_url


@pytest.fixture(scope="module")
def production_stack(tmp_path_factory):
    """Daphne, a celery worker and celery beat, on PostgreSQL and Redis, each its own process."""
    database_url, redis_url = _production_urls()
    stack = Stack(tmp_path_factory.mktemp("prod"), database_url=database_url, redis_url=redis_url)
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory):
    """Ferry as `make run` starts it: one daphne process, SQLite, in-process worker."""
    stack = Stack(tmp_path_factory.mktemp("embedded"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def shared_embedded_stack(tmp_path_factory):
    """One embedded Ferry for the browser modules of the ``EMBEDDED_BROWSER_GROUP`` xdist group
    (tests/e2e/stack.py): each makes its own clouds on it, and a stack started once instead of once
    per module saves its migrations, seeding and server start-up."""
    stack = Stack(tmp_path_factory.mktemp("embedded-shared"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def shared_production_stack(tmp_path_factory):
    """One production-shape Ferry for the modules of the ``RECOVERY_GROUP`` xdist group
    (tests/e2e/stack.py): each makes its own cloud on it; none kills or cuts its processes."""
    database_url, redis_url = _production_urls()
    stack = Stack(tmp_path_factory.mktemp("prod-shared"), database_url=database_url, redis_url=redis_url)
    try:
        yield stack.start()
    finally:
        stack.stop()
