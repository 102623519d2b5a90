"""`manage.py launch CLOUD KIND [--param KEY=VALUE …] [--to SERIES] --user NAME [--yes]`.

Launches a job through the same service as the pages and the API, acting as a named user who must
be allowed to operate the cloud. Without ``--yes`` it prints the plan and launches nothing.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.clouds.permissions import CloudAction, can
from apps.jobs import services
from apps.jobs.cli import get_cloud, get_user, parse_params, preview_text, refusal
from apps.jobs.models import Backend
from apps.jobs.preview import plan_preview
from runner.planner import KINDS


class Command(BaseCommand):
    help = "Launch a job on a cloud as a named user; without --yes, show its plan and launch nothing."

    def add_arguments(self, parser):
        parser.add_argument("cloud")
        parser.add_argument("kind", help=f"one of {', '.join(KINDS)}")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--to", help="the release to reach (upgrades) or to deploy")
        parser.add_argument("--user", required=True, help="the user the job is launched as (audited)")
        parser.add_argument("--backend", default=Backend.LAB, choices=Backend.values)
        parser.add_argument("--limit", default="", help="cells or hosts, comma-separated")
        parser.add_argument("--yes", action="store_true", help="confirm: launch it")

    def handle(self, *args, cloud, kind, param, to, user, backend, limit, yes, **options):
        actor = get_user(user)
        target = get_cloud(cloud)
        if not can(actor, CloudAction.OPERATE, target):
            raise CommandError(f"user: {user} may not launch jobs on {target.slug}", returncode=2)
        params = parse_params(param, kind, to)
        try:
            if not yes:
                self.stdout.write(preview_text(plan_preview(target, kind, params, backend)))
                raise CommandError("confirm: nothing launched; add --yes to launch this plan", returncode=2)
            job = services.launch_job(
                actor, target, kind, params=params, limit=limit, backend=backend, confirmed=True
            )
        except ValidationError as exc:
            raise refusal(exc) from None
        except PermissionDenied as exc:
            raise CommandError(f"user: {exc}", returncode=2) from None
        steps = job.steps.count()
        self.stdout.write(f"job {job.pk} queued: {kind} on {target.slug} as {user}, {steps} steps")
