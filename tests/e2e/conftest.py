"""Fixtures that start Ferry for real: embedded, and in production shape.

The production shape needs PostgreSQL (``DATABASE_URL``) and Redis
(``REDIS_URL``). Where they are not configured the tests are skipped, except
when ``FERRY_REQUIRE_SERVICES=1`` (CI sets it): then a missing service fails
the run instead of hiding it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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


def _running(stack: Stack) -> Iterator[Stack]:
    """``stack`` started for the fixture's scope, stopped (process groups included) after it."""
    try:
        yield stack.start()
    finally:
        stack.stop()


def _production_stack(directory) -> Stack:
    database_url, redis_url = _production_urls()
    return Stack(directory, database_url=database_url, redis_url=redis_url)


@pytest.fixture(scope="module")
def production_stack(tmp_path_factory):
    """Daphne, a celery worker and celery beat, on PostgreSQL and Redis, each its own process."""
    yield from _running(_production_stack(tmp_path_factory.mktemp("prod")))


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory):
    """Ferry as `make run` starts it: one daphne process, SQLite, in-process worker."""
    yield from _running(Stack(tmp_path_factory.mktemp("embedded")))


@pytest.fixture(scope="session")
def shared_embedded_stack(tmp_path_factory):
    """One embedded Ferry for the browser modules of the ``EMBEDDED_BROWSER_GROUP`` xdist group
    (tests/e2e/stack.py): each makes its own clouds on it, and a stack started once instead of once
    per module saves its migrations, seeding and server start-up."""
    yield from _running(Stack(tmp_path_factory.mktemp("embedded-shared")))


@pytest.fixture(scope="session")
def shared_production_stack(tmp_path_factory):
    """One production-shape Ferry for the modules of the ``RECOVERY_GROUP`` xdist group
    (tests/e2e/stack.py): each makes its own cloud on it; none kills or cuts its processes."""
    yield from _running(_production_stack(tmp_path_factory.mktemp("prod-shared")))
