"""Checking the audit trail's hash chain, entry by entry in id order."""

from __future__ import annotations

from dataclasses import dataclass

from apps.audit import chain
from apps.audit.models import AuditEntry


@dataclass
class ChainReport:
    """What a walk along the chain found: how far it held, and the first break if any."""

    checked: int
    head: str
    head_id: int | None
    broken_id: int | None = None
    problem: str = ""

    @property
    def holds(self) -> bool:
        return self.broken_id is None


def verify_chain(chunk_size: int = 2000) -> ChainReport:
    """Walk every entry oldest first; stop at the first whose hash or link does not hold.

    An entry whose fields were changed no longer matches its own hash; an entry removed from the
    middle leaves the next one pointing at a hash that is no longer before it.
    """
    previous, previous_id, checked = chain.GENESIS, None, 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=chunk_size):
        if entry.prev_hash != previous:
            where = f"entry {previous_id}" if previous_id is not None else "the start of the chain"
            return ChainReport(
                checked,
                previous,
                previous_id,
                entry.id,
                f"its prev_hash {entry.prev_hash[:16]}… does not match the hash of {where} "
                f"({previous[:16]}…): an entry before it was removed, or that one was altered",
            )
        computed = chain.entry_hash(chain.fields_of(entry))
        if computed != entry.hash:
            return ChainReport(
                checked,
                previous,
                previous_id,
                entry.id,
                f"its fields do not match its stored hash (stored {entry.hash[:16]}…, "
                f"computed {computed[:16]}…): the entry was altered after it was written",
            )
        previous, previous_id, checked = entry.hash, entry.id, checked + 1
    return ChainReport(checked, previous, previous_id)
