"""`manage.py launch CLOUD KIND [--param KEY=VALUE …] [--to SERIES] --user NAME [--reason TEXT]
[--emergency] [--yes]`.

Launches a job through the same service as the pages and the API, acting as a named user who must
be allowed to operate the cloud. ``--yes`` is the confirmation the service asks of a kind that changes
the cloud: without it such a kind prints its plan and launches nothing, while a read-only one launches.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.clouds.models import Cloud
from apps.clouds.permissions import CloudAction, can
from apps.jobs import services
from apps.jobs.cli import get_cloud, get_user, parse_params, preview_text, refusal
from apps.jobs.models import Backend, JobState
from apps.jobs.preview import plan_preview
from runner.planner import KINDS


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Launch a job on a cloud as a named user; without --yes, a kind that changes the cloud shows "
        "its plan and launches nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("cloud")
        parser.add_argument("kind", help=f"one of {', '.join(KINDS)}")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("--to", help="the release to reach (upgrades) or to deploy")
        parser.add_argument("--user", required=True, help="the user the job is launched as (audited)")
        parser.add_argument("--backend", default=Backend.LAB, choices=Backend.values)
        parser.add_argument("--limit", default="", help="cells or hosts, comma-separated")
        parser.add_argument("--yes", action="store_true", help="confirm a kind that changes the cloud")
        parser.add_argument(
            "--reason",
            default="",
            help="why you want it: required where the cloud's policy asks for approvers, and with "
            "--emergency (why it cannot wait)",
        )
        parser.add_argument(
            "--wanted-at",
            type=_when,
            default=None,
            help="when you would like it to run (ISO 8601, UTC if no zone)",
        )
        parser.add_argument(
            "--emergency",
            action="store_true",
            help="start now even outside the cloud's maintenance windows and freezes (needs --reason)",
        )

    def handle(
        self,
        *args,
        cloud,
        kind,
        param,
        to,
        user,
        backend,
        limit,
        yes,
        reason,
        wanted_at,
        emergency,
        **options,
    ):
        actor = get_user(user)
        target = get_cloud(cloud)
        if not can(actor, CloudAction.OPERATE, target):
            raise CommandError(f"user: {user} may not launch jobs on {target.slug}", returncode=2)
        params = parse_params(param, kind, to)
        try:
            job = services.launch_job(
                actor,
                target,
                kind,
                params=params,
                limit=limit,
                backend=backend,
                confirmed=yes,
                reason=reason,
                wanted_at=wanted_at,
                emergency=emergency,
                emergency_reason=reason,
            )
        except ValidationError as exc:
            if not yes and "confirm" in getattr(exc, "error_dict", {}):
                # The service wants a confirmation: show what --yes would launch.
                self._show_plan(target, kind, params, backend)
                raise CommandError(
                    "confirm: nothing launched; add --yes to launch this plan", returncode=2
                ) from None
            raise refusal(exc) from None
        except PermissionDenied as exc:
            raise CommandError(f"user: {exc}", returncode=2) from None
        steps = job.steps.count()
        if job.state == JobState.AWAITING_APPROVAL:
            self.stdout.write(
                f"job {job.pk} awaits approval: {kind} on {target.slug} as {user}, {steps} steps; "
                f"an approver of {target.slug} approves it on /approvals/ or POST /api/jobs/{job.pk}/approve/"
            )
            return
        if job.state == JobState.SCHEDULED:
            when = f"{job.scheduled_for:%Y-%m-%d %H:%M} UTC" if job.scheduled_for else "no opening yet"
            self.stdout.write(
                f"job {job.pk} scheduled for {when}: {kind} on {target.slug} as {user}, {steps} steps; "
                f"{job.scheduled_reason}"
            )
            return
        emergency = " as an emergency" if job.emergency else ""
        self.stdout.write(f"job {job.pk} queued{emergency}: {kind} on {target.slug} as {user}, {steps} steps")

    def _show_plan(self, cloud: Cloud, kind: str, params: dict, backend: str) -> None:
        try:
            preview = plan_preview(cloud, kind, params, backend)
        except ValidationError as exc:
            raise refusal(exc) from None
        self.stdout.write(preview_text(preview))
