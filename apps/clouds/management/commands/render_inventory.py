"""`manage.py render_inventory --cloud NAME --out DIR`: write what the runner uses for a cloud."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.clouds import services
from apps.clouds.models import Cloud


class Command(BaseCommand):
    help = "Write a cloud's kolla-ansible inventory and group_vars into DIR."

    def add_arguments(self, parser):
        parser.add_argument("--cloud", required=True)
        parser.add_argument("--out", required=True, type=Path)

    def handle(self, *args, cloud: str, out: Path, **options):
        target = Cloud.objects.filter(slug=cloud).first()
        if target is None:
            raise CommandError(f"--cloud {cloud}: no such cloud")
        path = services.render_cloud_inventory(target, out)
        self.stdout.write(f"Wrote {path}")
