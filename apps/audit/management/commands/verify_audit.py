"""``manage.py verify_audit``: check that the audit trail's hash chain holds."""

from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEntry
from apps.audit.verify import verify_chain


class Command(BaseCommand):
    help = (
        "Walk the audit trail oldest first and check each entry's SHA-256 hash and its link to the "
        "entry before it. Exits 0 when the chain holds, 1 naming the first broken entry."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            metavar="HASH",
            help=(
                "a head hash noted earlier: it must still be in the chain, so that entries removed "
                "from the end are noticed too"
            ),
        )

    def handle(self, *args, **options):
        report = verify_chain()
        if not report.holds:
            raise CommandError(
                f"audit chain broken at entry {report.broken_id}: {report.problem} "
                f"({report.checked} entries before it hold)",
                returncode=1,
            )
        expected = options.get("expect_head")
        if expected and not AuditEntry.objects.filter(hash=expected).exists():
            raise CommandError(
                f"audit chain broken after entry {report.head_id}: the head noted earlier ({expected}) "
                "is no longer in the chain, so entries at its end were removed",
                returncode=1,
            )
        self.stdout.write(
            f"audit chain holds: {report.checked} entries, head {report.head} "
            f"(entry {report.head_id if report.head_id is not None else '-'})"
        )
