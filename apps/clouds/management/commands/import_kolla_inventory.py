"""`manage.py import_kolla_inventory --cloud NAME PATH`: load a kolla-ansible inventory into Ferry."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.clouds import services
from apps.clouds.limits import YAML_LIMITS
from apps.clouds.models import Cloud


class Command(BaseCommand):
    help = (
        "Import a kolla-ansible INI inventory (a file, or a directory with one and group_vars/) "
        "into a cloud, "
        "replacing its hosts, groups and cells. Creates the cloud if it does not exist. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--cloud", required=True, help="the cloud's DNS-safe name")
        parser.add_argument("--globals", type=Path, help="a globals.yml to store with the cloud")
        parser.add_argument("--release", help="the cloud's current release series, e.g. 2025.1")

    def handle(self, *args, path: Path, cloud: str, globals: Path | None, release: str | None, **options):
        if not path.exists():
            raise CommandError(f"{path}: no such file or directory")
        if globals is not None and not globals.is_file():
            raise CommandError(f"--globals {globals}: no such file")
        if globals is not None and globals.stat().st_size > YAML_LIMITS.max_bytes:
            raise CommandError(f"--globals {globals}: larger than {YAML_LIMITS.max_bytes:,} bytes")
        try:
            with transaction.atomic():
                target = Cloud.objects.filter(slug=cloud).first()
                created = target is None
                if created:
                    target = services.create_cloud(None, slug=cloud)
                summary = services.import_inventory_path(
                    None, target, path, globals_yml=globals.read_bytes() if globals else None, release=release
                )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} cloud {cloud}: {summary.hosts} hosts, {summary.groups} groups, "
            f"{len(summary.cells)} cells{' (' + ', '.join(summary.cells) + ')' if summary.cells else ''}."
        )


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
