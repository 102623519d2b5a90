"""`manage.py plan --cloud SLUG --operation KIND [--to SERIES] [--param KEY=VALUE …] [--format text|json]`."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from apps.jobs.cli import get_cloud, parse_params, preview_text, refusal
from apps.jobs.models import Backend
from apps.jobs.preview import plan_preview
from runner.planner import KINDS


class Command(BaseCommand):
    help = "Show what a job would do on a cloud, step by step, without running anything."

    def add_arguments(self, parser):
        parser.add_argument("--cloud", required=True)
        parser.add_argument("--operation", required=True, help=f"one of {', '.join(KINDS)}")
        parser.add_argument("--to", help="the release to reach (upgrades) or to deploy")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--backend", default=Backend.LAB, choices=Backend.values)
        parser.add_argument("--format", default="text", choices=["text", "json"])

    def handle(self, *args, cloud: str, operation: str, to, param, backend, format, **options):
        target = get_cloud(cloud)
        params = parse_params(param, operation, to)
        try:
            preview = plan_preview(target, operation, params, backend)
        except ValidationError as exc:
            raise refusal(exc) from None
        if format == "json":
            self.stdout.write(json.dumps(preview, indent=2, default=str))
            return
        self.stdout.write(preview_text(preview))
