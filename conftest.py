"""Fixtures shared by every test: a persona per role, clients logged in as them, kolla-ansible."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.clouds import services
from apps.clouds.demo import DEMO_INVENTORY
from runner.kolla import DEFAULT_VERSION, KollaInstall, default_cache_dir, installed
from tests.factories import UserFactory

PERSONAS = ("viewer", "operator", "approver", "admin")


def pytest_configure(config: pytest.Config) -> None:
    """Tests import ``portal.asgi`` for its application, not for the embedded worker and beat it
    starts in a running portal: without this, a beat thread would query the test database from
    outside any test. Embedded-shape tests start a real portal process instead.
    """
    from django.conf import settings

    settings.FERRY_EMBEDDED_WORKER = False
    # Hashing a password the production way takes most of a second; tests create users by the dozen
    # and check no hash's strength. Processes started by tests/e2e keep the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test process numbers jobs from 1 in its own database, and a job's steps keep their files
    # in FERRY_SCRATCH_DIR/job-<id>: a directory of its own keeps two processes' job 7 apart (one
    # removing its job's files would remove the other's while it runs).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    scratch = Path(settings.FERRY_SCRATCH_DIR) / f"tests-{worker}-{os.getpid()}"
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.FERRY_SCRATCH_DIR = scratch
    _let_flush_empty_the_audit_trail()


def _let_flush_empty_the_audit_trail() -> None:
    """Transactional tests end by emptying every table with TRUNCATE; on PostgreSQL the audit
    trail's trigger refuses that unless the transaction says so (apps/audit/migrations/0002)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return flush(self, ["SELECT set_config('ferry.audit_truncate', 'allowed', true)", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this test process's scratch directory (see pytest_configure)."""
    from django.conf import settings

    if Path(settings.FERRY_SCRATCH_DIR).name.startswith("tests-"):
        shutil.rmtree(settings.FERRY_SCRATCH_DIR, ignore_errors=True)


@pytest.fixture
def viewer(db):
    return UserFactory(username="vera-viewer", role="viewer")


@pytest.fixture
def operator(db):
    return UserFactory(username="otto-operator", role="operator")


@pytest.fixture
def approver(db):
    return UserFactory(username="alma-approver", role="approver")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada-admin", role="admin")


@pytest.fixture
def outsider(db):
    """Logged in, but holds no role: sees no cloud."""
    return UserFactory(username="oscar-outsider")


@pytest.fixture
def api():
    """An API client; call ``api.force_authenticate(user)`` or log in with a token."""
    return APIClient()


@pytest.fixture
def client_as(client):
    """``client_as(user)`` returns the test client logged in as ``user``."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_as(api):
    """``api_as(user)`` returns the API client authenticated as ``user``."""

    def login(user):
        api.force_authenticate(user)
        return api

    return login


@pytest.fixture(autouse=True)
def catalog_day(monkeypatch):
    """Release statuses follow their dates: tests see them as on the day they were written."""
    monkeypatch.setattr("apps.catalog.models.today", lambda: datetime.date(2026, 12, 3))


@pytest.fixture
def catalog(db):
    """The shipped catalog; transactional tests flush what the data migration loaded."""
    from django.apps import apps

    from apps.catalog.catalog_data import load, load_lifecycle

    load(apps)
    load_lifecycle(apps)


@pytest.fixture
def demo_cloud(catalog):
    """The demo cloud: 3 API controllers, a network node, cells cell1 (1+4) and cell2 (1+3)."""
    cloud = services.create_cloud(
        None,
        slug="demo",
        release="2025.1",
        globals_yml=(DEMO_INVENTORY / "globals.yml").read_text(),
        passwords_yml="database_password: Sup3r-Secret-DB\nkeystone_admin_password: Adm1n-Secret-KS\n",
    )
    services.import_inventory_path(None, cloud, DEMO_INVENTORY)
    return cloud


@pytest.fixture
def no_worker(monkeypatch):
    """Record tasks that would be sent to a worker instead of sending them (unit tests only)."""
    sent = []
    from apps.jobs import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: sent.append(("run", job_id)))
    monkeypatch.setattr(tasks.dispatch_jobs, "delay", lambda: sent.append(("dispatch", None)))
    return sent


SMALL_INVENTORY = """
[control]
ctl01
[network]
ctl01
[monitoring]
ctl01
[storage]
ctl01
[compute]
cmp01
cmp02
"""
LAB_PASSWORDS = "database_password: Db-Pa55-Never-Shown\nkeystone_admin_password: Ks-Pa55-Never-Shown\n"


@pytest.fixture
def lab_cloud(catalog, tmp_path, settings):
    """A two-compute cloud whose lab lives in this test's own directory (FERRY_VAR_DIR)."""
    settings.FERRY_VAR_DIR = str(tmp_path)
    settings.VAR_DIR = tmp_path
    inventory = tmp_path / "inventory"
    inventory.write_text(SMALL_INVENTORY)
    cloud = services.create_cloud(
        None,
        slug="small",
        passwords_yml=LAB_PASSWORDS,
        globals_yml='kolla_base_distro: "rocky"\nenable_mariabackup: "yes"\n',
    )
    services.import_inventory_path(None, cloud, inventory)
    return cloud


@pytest.fixture(scope="session")
def kolla_install() -> KollaInstall:
    """kolla-ansible 22 as `make kolla` installed it; tests never install it themselves.

    Without it the test is skipped, unless FERRY_REQUIRE_SERVICES is set (as in CI): then it fails.
    """
    install = installed(DEFAULT_VERSION, base=default_cache_dir())
    if install is None:
        message = (
            f"kolla-ansible {DEFAULT_VERSION} is not installed in {default_cache_dir()}: run `make kolla`"
        )
        if os.environ.get("FERRY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (FERRY_REQUIRE_SERVICES forbids skipping)")
        pytest.skip(message)
    return install
