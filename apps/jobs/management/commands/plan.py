"""`manage.py plan --cloud SLUG --operation KIND [--to SERIES] [--param KEY=VALUE …] [--format text|json]`."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.clouds.models import Cloud
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
        target = Cloud.objects.select_related("release").filter(slug=cloud).first()
        if target is None:
            raise CommandError(f"cloud: no cloud named {cloud!r}", returncode=2)
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"param: {item!r} is not KEY=VALUE", returncode=2)
            params[key] = value
        if to:
            names = {p.name for p in KINDS[operation].params} if operation in KINDS else set()
            params["target_release" if "target_release" in names else "release"] = to
        try:
            preview = plan_preview(target, operation, params, backend)
        except ValidationError as exc:
            reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(reasons, returncode=2) from None
        if format == "json":
            self.stdout.write(json.dumps(preview, indent=2, default=str))
            return
        self.stdout.write(_text(preview))


def _text(preview: dict) -> str:
    hops = " → ".join([preview["from"] or "nothing", *(h["to"] for h in preview["hops"])])
    estimate = preview["estimated_seconds"]
    lines = [
        f"{preview['kind']} on {preview['cloud']}: {hops if preview['hops'] else preview['to'] or '-'}",
        f"plan hash {preview['hash']}",
        f"estimated {estimate:.0f} s from past runs" if estimate is not None else "no estimate: no past runs",
        *(f"warning: {warning}" for warning in preview["warnings"]),
        "",
    ]
    for number, step in enumerate(preview["steps"], 1):
        gate = "  [gate: waits for a person]" if step["gate"] else ""
        lines.append(f"{number:2}. {step['name']}{gate}")
        lines.append(f"    {step['command']}")
    return "\n".join(lines)
