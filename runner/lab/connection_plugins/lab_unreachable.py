"""lab_unreachable: the connection of a lab host that is down; every attempt to reach it fails."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: lab_unreachable
short_description: A lab host that cannot be reached
description:
  - Stands for a server that is down or cut off. Any command fails as a connection failure, which
    Ansible reports as UNREACHABLE.
author: Ferry
options: {}
"""


class Connection(ConnectionBase):
    """A connection that always fails to connect."""

    transport = "lab_unreachable"
    has_pipelining = False

    def _connect(self) -> Connection:
        host = self._play_context.remote_addr
        raise AnsibleConnectionFailure(f"Failed to connect to the host: {host}: No route to host")

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> Any:
        """Fail: the host cannot be reached."""
        self._connect()

    def put_file(self, in_path: str, out_path: str) -> None:
        """Fail: the host cannot be reached."""
        self._connect()

    def fetch_file(self, in_path: str, out_path: str) -> None:
        """Fail: the host cannot be reached."""
        self._connect()

    def close(self) -> None:
        """Nothing to close."""
        self._connected = False
