"""The SHA-256 chain over audit entries: what is hashed, and how.

Each entry's hash covers a canonical serialization of its fields and the hash of the entry before
it, so changing any stored entry, or removing one from the middle, breaks every link after it.
Pure functions of plain values: the data migration that chained the existing entries uses them too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
# The fields a hash covers, in this order. Changing this list (or the serialization) would break
# every stored chain: add a new version instead.
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "cloud_slug",
    "detail",
    "request_id",
    "source_address",
    "prev_hash",
)


def canonical_time(value: datetime) -> str:
    """A timestamp as the hash sees it: UTC, microseconds, ISO 8601."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes a hash covers: the fields as JSON with sorted keys, no spaces, UTF-8."""
    values = {name: fields[name] for name in HASHED_FIELDS}
    values["created_at"] = canonical_time(values["created_at"])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 hex digest of an entry's canonical serialization (its previous hash included)."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def fields_of(entry: Any) -> dict[str, Any]:
    """The hashed fields of a stored entry (a model instance, historical or not)."""
    return {name: getattr(entry, name) for name in HASHED_FIELDS}
