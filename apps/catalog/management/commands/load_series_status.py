"""`manage.py load_series_status FILE`: refresh release dates and statuses from openstack/releases."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.catalog.series_status import SeriesStatusError, load_series_status


class Command(BaseCommand):
    help = (
        "Update the catalog's release dates and statuses from a file in openstack/releases' "
        "data/series_status.yaml format. Series the catalog lacks are listed, not created. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")

    def handle(self, *args, path: Path, dry_run: bool, **options):
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            report = load_series_status(None, path.read_text(encoding="utf-8"), dry_run=dry_run)
        except (SeriesStatusError, UnicodeDecodeError) as error:
            raise CommandError(f"{path}: {error}") from None
        verb = "would change" if dry_run else "changed"
        for series, diff in report.changed.items():
            changes = ", ".join(f"{name} {old or '-'} → {new or '-'}" for name, (old, new) in diff.items())
            self.stdout.write(f"{series}: {verb} {changes}")
        self.stdout.write(
            f"{len(report.changed)} {verb}, {len(report.unchanged)} unchanged, "
            f"{len(report.unknown)} not in the catalog"
            + (f" ({', '.join(report.unknown)})" if report.unknown else "")
        )
