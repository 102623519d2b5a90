"""Typed readers for settings that come from the environment.

Each helper refuses a bad value with an ``ImproperlyConfigured`` error that names
the variable and says what it expected, so a misconfigured deployment stops at
start-up instead of failing later in an obscure way.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | object | None = _UNSET) -> str | None:
    """Return the variable as a string; without a default it is required."""
    value = _raw(name)
    if value:
        return value
    if default is _UNSET:
        raise ImproperlyConfigured(f"{name} is required but is not set.")
    return default  # type: ignore[return-value]


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a boolean (1/0, true/false, yes/no, on/off)."""
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return the variable as an integer, optionally bounded below."""
    value = _raw(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    """Return the variable as a float, optionally bounded below."""
    value = _raw(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated variable as a list of non-empty, stripped items."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str | None, *, schemes: tuple[str, ...]) -> str | None:
    """Return a URL whose scheme is one of ``schemes``."""
    value = _raw(name) or default
    if value is None:
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with one of {', '.join(s + '://' for s in schemes)}; "
            f"got {value.split('@')[-1]!r}."
        )
    return value
