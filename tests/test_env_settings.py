"""Settings come only from the environment, and bad values are refused by name."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env


@pytest.mark.parametrize(
    ("helper", "value", "fragment"),
    [
        (lambda: env.env_bool("FERRY_X", False), "maybe", "FERRY_X must be a boolean"),
        (lambda: env.env_int("FERRY_X", 1), "two", "FERRY_X must be an integer"),
        (lambda: env.env_int("FERRY_X", 1, minimum=1), "0", "FERRY_X must be at least 1"),
        (lambda: env.env_float("FERRY_X", 1.0), "fast", "FERRY_X must be a number"),
        (lambda: env.env_url("FERRY_X", None, schemes=("redis",)), "http://h", "FERRY_X must be a URL"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(monkeypatch, helper, value, fragment):
    monkeypatch.setenv("FERRY_X", value)
    with pytest.raises(ImproperlyConfigured, match=fragment):
        helper()


def test_good_values_are_parsed(monkeypatch):
    monkeypatch.setenv("FERRY_X", " yes ")
    assert env.env_bool("FERRY_X", False) is True
    monkeypatch.setenv("FERRY_X", "a, b,,c")
    assert env.env_list("FERRY_X", []) == ["a", "b", "c"]
    monkeypatch.delenv("FERRY_X")
    assert env.env_int("FERRY_X", 7) == 7


def test_url_error_does_not_leak_credentials(monkeypatch):
    monkeypatch.setenv("REDIS_X", "http://user:s3cret@host/0")
    with pytest.raises(ImproperlyConfigured) as caught:
        env.env_url("REDIS_X", None, schemes=("redis",))
    assert "s3cret" not in str(caught.value)


def _start_settings(**overrides: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environ.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _start_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_starts_without_secret_key_in_debug():
    assert _start_settings(DEBUG="1").returncode == 0


def test_refuses_a_bad_database_url():
    result = _start_settings(DEBUG="1", DATABASE_URL="mysql://db/ferry")
    assert result.returncode != 0
    assert "DATABASE_URL must be a URL starting with one of sqlite://" in result.stderr


def test_refuses_a_trusted_proxy_header_that_is_no_header_name():
    result = _start_settings(DEBUG="1", FERRY_TRUSTED_PROXY_HEADER="X-Forwarded-For: 1.2.3.4")
    assert result.returncode != 0
    assert "FERRY_TRUSTED_PROXY_HEADER must be a header name" in result.stderr
