"""Fixtures for the runner tests: Ansible's view of an inventory, in a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _clean_ansible_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", **extra)
    return env


@pytest.fixture(scope="session")
def clean_ansible_env() -> Callable[..., dict[str, str]]:
    """Build this process's environment without ANSIBLE_* settings (so no outside configuration
    changes a result), plus the given variables."""
    return _clean_ansible_env


@pytest.fixture(scope="session")
def ansible_inventory_list() -> Callable[[Path], dict[str, Any]]:
    """Run the project's real `ansible-inventory --list` on an inventory and return its JSON."""
    binary = Path(sys.executable).parent / "ansible-inventory"

    def run(path: Path) -> dict[str, Any]:
        proc = subprocess.run(
            [str(binary), "-i", str(path), "--list"],
            capture_output=True,
            text=True,
            env=_clean_ansible_env(ANSIBLE_INVENTORY_ENABLED="ini", ANSIBLE_INVENTORY_UNPARSED_FAILED="1"),
            cwd=path.parent,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run
