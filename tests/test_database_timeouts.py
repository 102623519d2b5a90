"""PostgreSQL ends a runaway statement or an abandoned transaction instead of letting it hold locks."""

import os
import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own timeouts")
    return connection.settings_dict


def test_every_connection_carries_the_configured_timeouts(postgres):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "1min"
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone()[0] == "5min"


def test_a_statement_longer_than_the_timeout_is_canceled(postgres):
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**{**postgres, "PORT": postgres["PORT"] or 5432})
    script = (
        "import django; django.setup()\n"
        "from django.db import connection, OperationalError\n"
        "try:\n"
        "    connection.cursor().execute('SELECT pg_sleep(30)')\n"
        "    print('finished')\n"
        "except OperationalError as error:\n"
        "    print(type(error.__cause__).__name__)\n"
    )
    environ = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "FERRY_DB_STATEMENT_TIMEOUT": "0.5"}
    environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    result = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "QueryCanceled", result.stderr
