"""The SHA-256 chain: each entry hashes its fields and the entry before it; verify_audit checks it."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.audit import chain
from apps.audit.models import AuditEntry
from apps.audit.services import record

pytestmark = pytest.mark.django_db


def _verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_each_entry_links_to_the_one_before_it(entries):
    stored = list(AuditEntry.objects.order_by("id"))
    assert stored[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    for entry in stored:  # read back from the database, the fields still give the stored hash
        assert chain.entry_hash(chain.fields_of(entry)) == entry.hash


def test_verify_audit_passes_on_an_intact_chain(entries):
    assert "audit chain holds: 5 entries" in _verify()


def test_verify_audit_passes_on_an_empty_trail(db):
    assert "audit chain holds: 0 entries" in _verify()


def _raw(sql: str, params: list) -> None:
    """Write past the model's guard (and, on PostgreSQL, past the trigger, inside this test's
    transaction only), as someone with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER USER")


def test_verify_audit_names_an_entry_altered_through_raw_sql(entries):
    victim = entries[2]
    _raw("UPDATE audit_auditentry SET actor_name = %s WHERE id = %s", ["mallory", victim.id])
    with pytest.raises(CommandError) as caught:
        _verify()
    assert caught.value.returncode == 1
    assert f"entry {victim.id}:" in str(caught.value) and "do not match its stored hash" in str(caught.value)


def test_verify_audit_catches_a_rehashed_entry_at_the_next_link(entries):
    """Altering an entry and recomputing its hash breaks the link from the entry after it."""
    victim = entries[1]
    fields = chain.fields_of(victim) | {"action": "test.nothing_to_see"}
    _raw(
        "UPDATE audit_auditentry SET action = %s, hash = %s WHERE id = %s",
        ["test.nothing_to_see", chain.entry_hash(fields), victim.id],
    )
    with pytest.raises(CommandError) as caught:
        _verify()
    assert f"broken at entry {entries[2].id}:" in str(caught.value)
    assert f"entry {victim.id}" in str(caught.value)


def test_verify_audit_names_the_entry_after_one_deleted_from_the_middle(entries):
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [entries[2].id])
    with pytest.raises(CommandError) as caught:
        _verify()
    assert caught.value.returncode == 1
    assert f"broken at entry {entries[3].id}:" in str(caught.value) and "removed" in str(caught.value)


def test_verify_audit_with_a_noted_head_catches_entries_removed_from_the_end(entries):
    head = entries[-1].hash
    call_command("verify_audit", expect_head=head)
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [entries[-1].id])
    _verify()  # without the noted head, a shorter chain still holds
    with pytest.raises(CommandError, match="no longer in the chain"):
        call_command("verify_audit", expect_head=head)


def test_details_that_are_not_plain_json_are_stored_as_hashed(operator):
    from datetime import UTC, datetime

    entry = record(operator, "test.odd", detail={"when": datetime(2026, 1, 2, tzinfo=UTC), 3: (1, 2)})
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.detail == {"when": "2026-01-02 00:00:00+00:00", "3": [1, 2]}
    assert chain.entry_hash(chain.fields_of(stored)) == stored.hash


def test_the_migration_chains_existing_entries_in_id_order(entries):
    """Entries written before the chain existed get their links and hashes, oldest first."""
    import importlib

    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("apps.audit.migrations.0002_append_only_chain")
    ids = [e.id for e in entries]
    _raw(
        "UPDATE audit_auditentry SET prev_hash = '', hash = '' WHERE id = ANY(%s)"
        if connection.vendor == "postgresql"
        else f"UPDATE audit_auditentry SET prev_hash = '', hash = '' WHERE id IN ({','.join(map(str, ids))})",
        [ids] if connection.vendor == "postgresql" else [],
    )
    historical = MigrationLoader(connection).project_state(("audit", "0002_append_only_chain")).apps
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
    migration.chain_existing(historical, None)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER USER")
    stored = list(AuditEntry.objects.order_by("id"))
    assert [e.hash for e in stored] == [e.hash for e in entries]
    assert "audit chain holds: 5 entries" in _verify()
