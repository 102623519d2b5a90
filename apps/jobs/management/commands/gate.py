"""`manage.py gate JOB continue|abort --reason TEXT --user NAME`: decide a job waiting at a gate.

The same services as the job page's buttons and ``POST /api/jobs/{id}/continue/`` and ``abort/``:
the user must be allowed to operate the job's cloud, the reason is required and audited.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.jobs import services
from apps.jobs.cli import get_user, refusal
from apps.jobs.models import Job


class Command(BaseCommand):
    help = "Continue or abort a job that waits at a gate, as a named user, with a reason."

    def add_arguments(self, parser):
        parser.add_argument("job", type=int)
        parser.add_argument("decision", choices=["continue", "abort"])
        parser.add_argument("--reason", required=True, help="why (kept with the job and in the audit trail)")
        parser.add_argument("--user", required=True, help="the user who decides (audited)")

    def handle(self, *args, job, decision, reason, user, **options):
        actor = get_user(user)
        waiting = Job.objects.select_related("cloud").filter(pk=job).first()
        if waiting is None:
            raise CommandError(f"job: no job #{job}", returncode=2)
        decide = services.continue_job if decision == "continue" else services.abort_job
        try:
            waiting = decide(actor, waiting, reason=reason)
        except ValidationError as exc:
            raise refusal(exc) from None
        except PermissionDenied as exc:
            raise CommandError(f"user: {exc}", returncode=2) from None
        self.stdout.write(f"job {waiting.pk} is {waiting.get_state_display()}")
