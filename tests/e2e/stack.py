"""A whole Ferry started for real, in separate processes, for end-to-end tests.

``Stack`` gives each test module its own database (a PostgreSQL database made
for it, or an SQLite file), runs ``migrate`` and ``seed_demo`` in a child
process, then starts the ASGI server (daphne) and, in production shape, a
``celery worker`` and ``celery beat`` process, exactly as ``make run-prod``
does. Everything is stopped, process groups included, on ``stop()``.

The helpers below are what the server tests (tests/e2e/, tests/reliability/) do to a running
stack: ``add_lab_cloud`` imports a lab cloud and deploys it once (a module-scoped fixture calls it,
so the module's tests share one stack and one deploy; mark such a module with its own
``pytest.mark.xdist_group`` so one test worker starts it, not each), ``launch`` and ``wait_for``
run a job through the API, and ``step_processes`` finds the stack's Ansible processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# A small kolla multinode inventory: one controller that is also the network and monitoring host,
# two computes.
LAB_INVENTORY = b"[control]\nctl01\n[network]\nctl01\n[monitoring]\nctl01\n[compute]\ncmp01\ncmp02\n"


# The xdist group of the browser modules that share one embedded stack (``shared_embedded_stack``):
# one test worker runs them all, on that stack.
EMBEDDED_BROWSER_GROUP = "embedded-browser"
# Likewise the production-shape modules of restore and rollback (``shared_production_stack``).
RECOVERY_GROUP = "recovery-production"


def _redis_db() -> int:
    """A Redis database of its own for each parallel test worker (pytest-xdist's gw0, gw1…)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(os.environ.get("FERRY_E2E_REDIS_DB", "9")) + (int(worker) if worker.isdigit() else 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def template_database() -> str | None:
    """The name of this test run's migrated PostgreSQL database, which each stack's database copies.

    ``migrate`` from nothing costs seconds of CPU and many commits; ``CREATE DATABASE … TEMPLATE`` a
    file copy. The root conftest names the run (FERRY_TEST_RUN, inherited by the xdist workers) and
    drops this database when the run ends (``drop_template_database``). Outside a test run (the
    benchmarks start stacks too) there is none, and each stack migrates its own database.
    """
    run = os.environ.get("FERRY_TEST_RUN")
    return f"ferry_e2e_tpl_{run}" if run else None


def drop_template_database(database_url: str) -> None:
    """Drop this run's template database, if a stack made one."""
    import psycopg

    template = template_database()
    if template:
        with psycopg.connect(_with_path(database_url, "/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@dataclass
class Stack:
    """A running Ferry: ``base_url``, ``ws_url``, logs under ``var_dir``."""

    var_dir: Path
    database_url: str | None = None  # a PostgreSQL server URL; None for embedded SQLite
    redis_url: str | None = None  # None for the embedded shape
    redis_db: int = field(default_factory=lambda: _redis_db())
    worker_concurrency: int = 2
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    _db_name: str | None = None
    _cloned: bool = False  # its database is a copy of the run's migrated template

    @property
    def production(self) -> bool:
        return self.redis_url is not None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
        environ.update(
            DJANGO_SETTINGS_MODULE="portal.settings",
            SECRET_KEY="ferry-e2e-secret-key",
            FERRY_SECRETS_KEY="ferry-e2e-secrets-key",
            DEBUG="0",
            FERRY_VAR_DIR=str(self.var_dir),
            # Inside var_dir, so it goes with it (the default is a directory in /dev/shm per var dir).
            FERRY_SCRATCH_DIR=str(self.var_dir / "scratch"),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CSRF_TRUSTED_ORIGINS=self.base_url,
            PATH=f"{BIN}{os.pathsep}{environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            SESSION_COOKIE_SECURE="0",  # plain http on loopback
            FERRY_HEARTBEAT_TIMEOUT="12",  # with the reaper every 5 s: lost within 17 s
            # Jobs queue without approvers, as the stacks' tests expect; approvals have tests of their own.
            FERRY_APPROVALS_REQUIRED="0",
            # No SMTP server on these machines: notifications are sent (and counted sent) nowhere.
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        )
        if self._db_name:
            environ["DATABASE_URL"] = _with_path(self.database_url, "/" + self._db_name)
        if self.redis_url:
            environ["REDIS_URL"] = _with_path(self.redis_url, f"/{self.redis_db}")
        return environ

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> Stack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if self.database_url:
            self._create_database()
        if self.redis_url:
            import redis

            redis.Redis.from_url(_with_path(self.redis_url, f"/{self.redis_db}")).flushdb()
        if not self._cloned:
            self.manage("migrate", "--no-input", "-v0")
        self.manage("seed_demo")
        self._spawn(
            "web", [BIN / "daphne", "-b", "127.0.0.1", "-p", str(self.port), "portal.asgi:application"]
        )
        if self.production:
            self.start_worker()
            self._spawn("beat", [BIN / "celery", "-A", "portal", "beat", "-l", "INFO"])
        self.wait_healthy()
        return self

    def start_worker(self) -> None:
        """Start (or start again) the separate ``celery worker`` process."""
        self._spawn(
            "worker",
            [
                BIN / "celery",
                "-A",
                "portal",
                "worker",
                "-l",
                "INFO",
                "-n",
                f"e2e-{self.port}@%h",
                "--concurrency",
                str(self.worker_concurrency),
            ],
        )

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool: what a crash or the OOM killer does."""
        proc = self.processes.pop("worker")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()
        if self._db_name:
            self._drop_database()

    def manage(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def wait_healthy(self, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                response = httpx.get(f"{self.base_url}/healthz", timeout=5)
                last = response.text
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"Ferry did not become healthy in {timeout} s; last answer: {last}")

    def log(self, name: str) -> str:
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def trouble(self, lines: int = 30) -> str:
        """Which of the stack's processes have exited, and their last CRITICAL and ERROR lines.

        Added to a failed test's report: a stack test that fails in CI otherwise says only what it
        waited for, not which process went wrong.
        """
        parts = []
        for name, proc in self.processes.items():
            state = "running" if proc.poll() is None else f"exited with {proc.returncode}"
            path = self.var_dir / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            serious = [line for line in text.splitlines() if "CRITICAL/" in line or "ERROR/" in line]
            parts.append(f"{name}: {state}\n" + "\n".join(serious[-lines:]))
        return "\n\n".join(parts)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    # --- clients ----------------------------------------------------------------
    def login(self, username: str, password: str | None = None) -> httpx.Client:
        """An HTTP client logged in through the real login form."""
        password = password or f"{username}-demo-pass"
        client = httpx.Client(base_url=self.base_url, timeout=30)
        client.get("/login/")
        response = client.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{self.base_url}/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login as {username} failed: {response.status_code}")
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        client.headers["Referer"] = self.base_url + "/"
        return client

    def ws_headers(self, client: httpx.Client) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        return {"Cookie": cookie, "Origin": self.base_url}

    # --- internals ------------------------------------------------------------
    def _spawn(self, name: str, argv: list) -> None:
        log = open(self.var_dir / f"{name}.log", "a")  # noqa: SIM115  (kept open for the child)
        self.processes[name] = subprocess.Popen(
            [str(a) for a in argv],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _admin_connection(self):
        import psycopg

        return psycopg.connect(_with_path(self.database_url, "/postgres"), autocommit=True)

    def _create_database(self) -> None:
        """A new database cloned from the run's migrated template (migrated first, if no stack of
        this run made it yet; an advisory lock makes the xdist workers take turns)."""
        template = template_database()
        name = f"ferry_e2e_{uuid.uuid4().hex[:10]}"
        with self._admin_connection() as conn:
            if template is None:
                conn.execute(f'CREATE DATABASE "{name}"')
                self._db_name = name
                return
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [template])
            try:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
                    conn.execute(f'CREATE DATABASE "{template}"')
                    self._db_name = template
                    try:
                        self.manage("migrate", "--no-input", "-v0")
                    except BaseException:
                        conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                        raise
                    finally:
                        self._db_name = None
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [template])
        self._db_name = name
        self._cloned = True

    def _drop_database(self) -> None:
        with self._admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._db_name}" WITH (FORCE)')
        self._db_name = None


# --- what the server tests do to a running stack ------------------------------------------------
def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "") -> Any:
    """Call ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or predicate}")
        time.sleep(interval)


def launch(client: httpx.Client, **body: Any) -> dict:
    """Launch a job through the API (on the cloud ``e2e`` unless ``cloud`` is given); its JSON."""
    response = client.post("/api/jobs/", json={"cloud": "e2e", **body})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(client: httpx.Client, job_id: int, states: set[str], timeout: float = 180) -> dict:
    """The job's JSON once its state is one of ``states``; fail after ``timeout`` seconds."""
    last: dict = {}

    def reached() -> dict | None:
        nonlocal last
        last = client.get(f"/api/jobs/{job_id}/").json()
        return last if last["state"] in states else None

    try:
        return poll(reached, timeout, 0.2)
    except AssertionError:
        message = f"job {job_id} did not reach {states}; last: {last.get('state')} {last.get('result')}"
        raise AssertionError(message) from None


def add_lab_cloud(stack: Stack, slug: str = "e2e", passwords_yml: str = "", deploy: bool = True) -> None:
    """Create a lab cloud ``slug`` of ``LAB_INVENTORY`` at 2025.1 and (unless ``deploy`` is false)
    deploy it with a job, so that prechecks, reconfigure, stop and check have something to act on."""
    admin = stack.login("admin")
    body = {"slug": slug, **({"passwords_yml": passwords_yml} if passwords_yml else {})}
    response = admin.post("/api/clouds/", json=body)
    assert response.status_code == 201, response.text
    response = admin.post(
        f"/api/clouds/{slug}/import-inventory/",
        files={"inventory": ("multinode", LAB_INVENTORY)},
        data={"release": "2025.1"},
    )
    assert response.status_code == 200, response.text
    if deploy:
        operator = stack.login("operator")
        job = launch(operator, cloud=slug, kind="deploy", confirm=True)
        done = wait_for(operator, job["id"], {"succeeded", "failed"}, timeout=300)
        assert done["state"] == "succeeded", operator.get(f"/jobs/{job['id']}/log.txt").text[-3000:]


def step_processes(stack: Stack) -> list[tuple[int, list[str]]]:
    """Live Ansible processes (ansible-playbook and its task workers) of this stack's steps, as
    (pid, command line): they carry a step token and inherit the stack's FERRY_VAR_DIR."""
    from runner.process import TOKEN_ENV

    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            ours = TOKEN_ENV in env and env.get("FERRY_VAR_DIR") == str(stack.var_dir)
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append((proc.pid, proc.cmdline()))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found
