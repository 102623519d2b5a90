"""Audit entries are append-only: the model refuses changes everywhere, PostgreSQL's trigger too."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AuditEntry, AuditEntryImmutable
from apps.audit.services import record

pytestmark = pytest.mark.django_db


def test_saving_an_existing_entry_is_refused(entries):
    entry = AuditEntry.objects.get(pk=entries[0].pk)
    entry.action = "test.rewritten"
    with pytest.raises(AuditEntryImmutable):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.step0"


def test_deleting_an_entry_is_refused(entries):
    with pytest.raises(AuditEntryImmutable):
        entries[0].delete()
    assert AuditEntry.objects.filter(pk=entries[0].pk).exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda qs: qs.update(action="test.rewritten"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["action"]),
        lambda qs: qs.bulk_create([AuditEntry(action="test.forged", hash="0" * 64)]),
    ],
    ids=["update", "delete", "bulk_update", "bulk_create"],
)
def test_queryset_changes_are_refused(entries, change):
    with pytest.raises(AuditEntryImmutable):
        change(AuditEntry.objects.all())
    assert AuditEntry.objects.count() == 5


def test_an_entry_saved_outside_record_is_refused(db):
    with pytest.raises(AuditEntryImmutable, match=r"services\.record"):
        AuditEntry(action="test.forged", actor_name="mallory").save()


def test_deleting_a_user_keeps_their_entries_and_the_chain(entries, operator):
    user_id = operator.pk
    get_user_model().objects.filter(pk=user_id).delete()
    stored = AuditEntry.objects.get(pk=entries[0].pk)
    assert stored.actor_id == user_id and stored.actor_name == operator.username
    from apps.audit.verify import verify_chain

    assert verify_chain().holds


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditentry SET actor_name = 'mallory'",
        "DELETE FROM audit_auditentry",
        "TRUNCATE audit_auditentry",
    ],
    ids=["UPDATE", "DELETE", "TRUNCATE"],
)
def test_postgresql_refuses_changing_the_table_whoever_asks(postgresql, entries, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEntry.objects.count() == 5
    assert AuditEntry.objects.filter(actor_name="mallory").count() == 0


def test_postgresql_still_accepts_appends(postgresql, entries, operator):
    record(operator, "test.after")
    assert AuditEntry.objects.count() == 6
