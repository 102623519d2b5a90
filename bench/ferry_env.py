"""Production shape for the benchmarks: PostgreSQL, the Redis channel layer, a private var directory."""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ferry"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a scratch database is created there (default: DATABASE_URL or %(default)s)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        help="channel layer that live events are published to (default: REDIS_URL or %(default)s)",
    )


def configure(args: argparse.Namespace, var_dir: str) -> None:
    """Set the environment Django's settings read; call before ``bench.common.scratch_database``.

    Steps keep their private directories in a RAM-backed directory, as by default, made for this
    run and removed when the process exits (the default would outlive the temporary ``var_dir``).
    """
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["FERRY_VAR_DIR"] = var_dir
    if "FERRY_SCRATCH_DIR" not in os.environ and os.access("/dev/shm", os.W_OK | os.X_OK):
        scratch = tempfile.mkdtemp(prefix="ferry-bench-", dir="/dev/shm")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        os.environ["FERRY_SCRATCH_DIR"] = scratch
    os.environ.setdefault("FERRY_SECRETS_KEY", "bench")
    # Benchmarks time jobs on throwaway clouds: they queue without approvers.
    os.environ.setdefault("FERRY_APPROVALS_REQUIRED", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def channel_layer() -> str:
    """The configured channel layer backend, checked to answer (so publishing really goes somewhere)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return "none"
    async_to_sync(layer.group_send)("bench.ping", {"type": "bench.ping"})
    return type(layer).__module__ + "." + type(layer).__name__
