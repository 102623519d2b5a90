"""Fixtures shared by every test: a persona per role, clients logged in as them, kolla-ansible."""

from __future__ import annotations

import datetime
import os
import shutil
import uuid
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
    # Names this run for its xdist workers, which inherit the environment (tests/e2e/stack.py).
    if not hasattr(config, "workerinput"):
        os.environ.setdefault("FERRY_TEST_RUN", uuid.uuid4().hex[:12])
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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``pytest.mark.xdist_group`` group again under ``--dist loadgroup``.

    pytest-xdist's worker marks a grouped test by appending ``@<group>`` to ``item._nodeid``, which
    pytest 9.2 no longer reads (the id lives in ``item._id``): every group was split over the workers,
    and each worker started the group's module-scoped stack. This sets the suffix where pytest reads
    it, and does nothing where xdist's own marking took effect.
    """
    if not (hasattr(config, "workerinput") and config.getvalue("loadgroup")):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted(
            {
                str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                for m in item.iter_markers("xdist_group")
            }
        )
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test that used a server stack reports its processes' state and serious log lines."""
    report = yield
    if report.failed:
        from tests.e2e.stack import Stack

        funcargs = getattr(item, "funcargs", {})
        stacks = {id(v): (name, v) for name, v in funcargs.items() if isinstance(v, Stack)}
        for name, stack in stacks.values():
            report.sections.append((f"stack {name}: processes and errors", stack.trouble()))
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this test process's scratch directory (see pytest_configure) and, in the process that
    ran the whole session, the migrated database the server tests' stacks were cloned from."""
    from django.conf import settings

    if Path(settings.FERRY_SCRATCH_DIR).name.startswith("tests-"):
        shutil.rmtree(settings.FERRY_SCRATCH_DIR, ignore_errors=True)
    database_url = os.environ.get("DATABASE_URL", "")
    if not hasattr(config, "workerinput") and database_url.startswith(("postgres://", "postgresql://")):
        from tests.e2e.stack import drop_template_database

        try:
            drop_template_database(database_url)
        except Exception as exc:  # PostgreSQL gone: nothing to drop, and no reason to fail the run
            print(f"could not drop the stacks' template database: {exc}")


@pytest.fixture
def postgresql(db):
    """For what only PostgreSQL has (row locks, triggers, advisory locks, concurrent writers): skip on
    SQLite, unless FERRY_REQUIRE_SERVICES forbids skipping: then fail."""
    from django.db import connection

    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (DATABASE_URL=postgres://…)"
        if os.environ.get("FERRY_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " and FERRY_REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip(message)


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
def no_approvals_by_default(settings):
    """Mutating jobs queue at once, as before change control: a test of approvals sets
    ``settings.FERRY_APPROVALS_REQUIRED`` (or a cloud's policy) itself."""
    settings.FERRY_APPROVALS_REQUIRED = 0


@pytest.fixture
def backup_store(settings, tmp_path) -> Path:
    """Ferry's backup store (``FERRY_BACKUP_DIR``) in the test's own directory."""
    settings.FERRY_BACKUP_DIR = tmp_path / "backups"
    return settings.FERRY_BACKUP_DIR


@pytest.fixture(autouse=True)
def quick_health_checks(settings):
    """Pages that show health (the dashboard) ask for a Celery worker that in-process tests never
    start, and would wait the whole production timeout for it on every render."""
    settings.FERRY_HEALTH_TIMEOUT = 0.2


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


# --- a deployed lab cloud, deployed once per test run --------------------------------------------
def _shared_tmp(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory every pytest-xdist worker of this run sees (this process's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


@pytest.fixture(scope="session")
def deployed_lab_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str):
    """The small lab cloud (``runner.tests.lab_fixtures.SMALL_CLOUD_INVENTORY``, 6 hosts, one cell)
    after bootstrap-servers and a deploy of 2025.1, with the deploy's events: ``(LabCloud, Collector)``.

    Deployed once per test run: the first xdist worker to ask deploys it under a lock and writes
    the events beside it; the others wait for the lock and read them. Read it, never change it:
    a test that runs a playbook takes ``deployed_lab`` (its own copy) instead.
    """
    import fcntl
    import json

    from runner.tests.lab_fixtures import Collector, deploy, new_cloud

    shared = _shared_tmp(tmp_path_factory, worker_id) / "deployed-lab"
    shared.mkdir(exist_ok=True)
    done, events_file = shared / "deployed", shared / "events.json"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            cloud = new_cloud(shared)
            events = Collector()
            events.events = json.loads(events_file.read_text())
        else:
            cloud = new_cloud(shared)
            events = deploy(cloud)
            events_file.write_text(json.dumps(events.events))
            done.touch()
    return cloud, events


@pytest.fixture
def deployed_lab(deployed_lab_template, tmp_path: Path):
    """A private copy of ``deployed_lab_template`` under this test's ``tmp_path``, to run playbooks on
    (a ``runner.tests.lab_fixtures.LabCloud``: ``.run(playbook, action=..., extra=...)``, ``.state(host)``).

    Copying the deployed host directories costs milliseconds; deploying them costs a bootstrap and a
    deploy of real Ansible. A test that needs the deploy itself, or another inventory, deploys its own.
    """
    return deployed_lab_template[0].copy_to(tmp_path)
