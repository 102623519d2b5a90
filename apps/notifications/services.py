"""Who hears about what happens to a job, and the messages they get.

The services that change a job call :func:`notify` on the path, one line beside their ``record``
call and in the same transaction, so a change rolled back announces nothing. The call is explicit
rather than hooked into ``apps.audit.services.record``: not every notice has an audit entry of its
own (a job starting), one audit action can end in several notices or none (``job.cancel`` of a
running job only asks the worker to stop; its end is announced when it ends), and the audit trail
stays free of delivery concerns. ``notify`` only writes ``Outbox`` rows; the periodic sweep sends
them (``apps.notifications.delivery``).

Events and who gets them (never the person who did it themselves):

- ``job.approval_requested``: the approvers of the job's cloud (not its requester);
- ``job.approvals_lapsed``: the approvers again (the new plan needs them), and the requester;
- ``job.approved``, ``job.denied``, ``job.expired``, ``job.started``: the requester;
- ``job.waiting``: the requester, and whoever may continue it at the gate (the cloud's approvers
  when its policy says gates need one, else its operators);
- ``job.succeeded``, ``job.failed``, ``job.canceled``, ``job.lost``: the requester; a job withdrawn
  while it awaited approval (``job.canceled`` with ``withdrawn`` in its detail) also the approvers,
  whose queue it leaves.

Each event of a cloud with an enabled webhook is also POSTed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.services import record
from apps.clouds.models import Cloud
from apps.clouds.permissions import CloudAction, can
from apps.clouds.secrets import encrypt
from apps.jobs.models import Job, JobState
from apps.notifications.models import Channel, NotificationSettings, Outbox, OutboxState

ENDED = ("job.succeeded", "job.failed", "job.canceled", "job.lost")
EVENTS = (
    "job.approval_requested",
    "job.approvals_lapsed",
    "job.approved",
    "job.denied",
    "job.expired",
    "job.started",
    "job.waiting",
    *ENDED,
)


@dataclass
class Message:
    """One email: its subject and plain-text body."""

    subject: str
    body: str


def job_url(job: Job) -> str:
    """The job's page, absolute (``FERRY_BASE_URL``)."""
    return settings.FERRY_BASE_URL.rstrip("/") + reverse("job-detail", args=[job.pk])


def _name(user) -> str:
    return user.get_username() if user is not None and user.is_authenticated else "ferry"


def holders_of(cloud: Cloud, role: Role) -> QuerySet:
    """Active users holding ``role`` on ``cloud``: globally (admins and superusers hold every role)
    or by a membership of that cloud. One query; the same rule as ``apps.clouds.permissions.can``."""
    roles = [role.value, Role.ADMIN.value]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__name__in=roles)
            | Q(cloud_memberships__cloud=cloud, cloud_memberships__role__in=roles)
        )
        .distinct()
    )


def _continuers(job: Job) -> QuerySet:
    """Who may continue ``job`` at a gate: approvers when its cloud's policy asks for one, else operators."""
    from apps.approvals.services import policy_for  # approvals call this module

    role = Role.APPROVER if policy_for(job.cloud).gates_need_approver else Role.OPERATOR
    return holders_of(job.cloud, role)


def _head(job: Job) -> str:
    return f"Job #{job.pk} ({job.kind} on {job.cloud.slug})"


def _approver_message(event: str, job: Job, actor, detail: dict[str, Any]) -> Message:
    head = _head(job)
    who = _name(job.requested_by)
    if event == "job.canceled":
        return Message(
            f"[Ferry] {head} withdrawn: nothing to approve",
            f"{_name(actor)} withdrew {head}, asked for by {who}, before it was approved. It has left "
            f"the approval queue and nothing of it ran.\n\nThe job: {job_url(job)}\n",
        )
    if event == "job.approvals_lapsed":
        return Message(
            f"[Ferry] {head}: its plan changed, approve it again",
            f"The plan of {head}, asked for by {who}, changed since it was approved or requested: "
            f"{detail.get('why', 'the cloud changed')}. Earlier approvals lapsed.\n\n"
            f"Read the new plan and approve or deny it: {job_url(job)}\n",
        )
    wanted = detail.get("wanted_at")
    return Message(
        f"[Ferry] {head} awaits your approval",
        f"{who} asks to run {job.kind} on {job.cloud.slug}.\n\n"
        f"Reason: {detail.get('reason') or '(none given)'}\n"
        + (f"Wanted at: {wanted}\n" if wanted else "")
        + f"Approvals required: {detail.get('approvals_required', 1)}\n"
        f"The request expires at {detail.get('expires_at', 'its policy time')}.\n\n"
        f"Read its plan, then approve or deny it: {job_url(job)}\n",
    )


def _gate_message(job: Job, *, requester: bool) -> Message:
    head = _head(job)
    whose = "Your job" if requester else f"{_name(job.requested_by)}'s job"
    return Message(
        f"[Ferry] {head} waits at a gate",
        f"{whose} #{job.pk} waits at a gate: {job.result}\n\n"
        "It holds its cloud but no worker until someone continues or aborts it, with a reason.\n"
        f"Check the cloud, then continue or abort it: {job_url(job)}\n",
    )


def _requester_message(event: str, job: Job, actor, detail: dict[str, Any]) -> Message:
    head = _head(job)
    url = job_url(job)
    if event == "job.approved":
        count, required = detail.get("approvals", 1), detail.get("required", 1)
        if detail.get("released") and job.state == JobState.SCHEDULED:
            when = f"{job.scheduled_for:%Y-%m-%d %H:%M} UTC" if job.scheduled_for else "when a window opens"
            then = f"It is scheduled for {when}, its cloud's next maintenance window: {job.scheduled_reason}"
        elif detail.get("released"):
            then = "It is queued and starts when a worker slot and the cloud are free."
        else:
            then = f"It needs {required - count} more approval(s) before it is released."
        return Message(
            f"[Ferry] {head} approved",
            f"{_name(actor)} approved your job #{job.pk} ({count} of {required}).\n"
            f"{then}\n\nFollow it: {url}\n",
        )
    if event == "job.approvals_lapsed":
        return Message(
            f"[Ferry] {head}: its plan changed and awaits approval again",
            f"{job.result}\n\nIt waits for approvers again; nothing to do unless you no longer want it "
            f"(then withdraw it): {url}\n",
        )
    if event == "job.denied":
        return Message(
            f"[Ferry] {head} denied",
            f"{_name(actor)} denied your job #{job.pk}: {detail.get('reason', '')}\n\nNothing of it ran. "
            f"Launch it again, changed as the reason asks, if it is still wanted: {url}\n",
        )
    if event == "job.expired":
        return Message(f"[Ferry] {head} expired", f"{job.result}\n\nThe job: {url}\n")
    if event == "job.started":
        return Message(
            f"[Ferry] {head} started",
            f"Your job #{job.pk} started (attempt {job.attempt}).\n\nFollow it live: {url}\n",
        )
    if event == "job.waiting":
        return _gate_message(job, requester=True)
    state = event.removeprefix("job.")
    next_step = {
        "job.succeeded": "Nothing more to do.",
        "job.failed": "Read the failed step's output, fix the cause, then resume the job.",
        "job.canceled": "Finished steps are kept; resume the job to go on from where it stopped.",
        "job.lost": "Its worker went silent; finished steps are kept: resume the job to go on.",
    }[event]
    return Message(
        f"[Ferry] {head} {state}",
        f"Your job #{job.pk} {state}: {job.result}\n\n{next_step}\nThe job: {url}\n",
    )


def recipients(
    event: str, job: Job, actor=None, detail: dict[str, Any] | None = None
) -> list[tuple[Any, str]]:
    """Who is emailed about ``event`` of ``job``: (user, audience) pairs, audience "requester",
    "approver" or "gate". Never the actor themselves, never a user without an email address."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    requester = job.requested_by
    picked: list[tuple[Any, str]] = []
    withdrawn = event == "job.canceled" and bool((detail or {}).get("withdrawn"))
    if event in ("job.approval_requested", "job.approvals_lapsed") or withdrawn:
        approvers = holders_of(job.cloud, Role.APPROVER)
        if job.requested_by_id is not None:
            approvers = approvers.exclude(pk=job.requested_by_id)
        picked += [(user, "approver") for user in approvers.order_by("username")]
    if event == "job.waiting":
        others = _continuers(job)
        if job.requested_by_id is not None:
            others = others.exclude(pk=job.requested_by_id)
        picked += [(user, "gate") for user in others.order_by("username")]
    if requester is not None and event != "job.approval_requested":
        picked.insert(0, (requester, "requester"))
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return [(user, audience) for user, audience in picked if user.email and user.pk != actor_id]


def message_for(
    event: str, job: Job, audience: str, actor=None, detail: dict[str, Any] | None = None
) -> Message:
    """The email one ``audience`` gets about ``event`` of ``job``."""
    detail = detail or {}
    if audience == "approver":
        return _approver_message(event, job, actor, detail)
    if audience == "gate":
        return _gate_message(job, requester=False)
    return _requester_message(event, job, actor, detail)


def webhook_payload(event: str, job: Job, actor=None, *, at=None) -> dict[str, Any]:
    """What a cloud's webhook receives about ``event`` of ``job``."""
    return {
        "event": event,
        "job": {
            "id": job.pk,
            "kind": job.kind,
            "state": job.state,
            "cloud": job.cloud.slug,
            "url": job_url(job),
        },
        "at": (at or timezone.now()).isoformat(),
        "actor": _name(actor),
    }


def notify(event: str, job: Job, *, actor=None, detail: dict[str, Any] | None = None) -> list[Outbox]:
    """Queue the emails (and the cloud's webhook call) that announce ``event`` of ``job``.

    Call it in the transaction of the change it announces: the rows are written there and sent by
    the sweep once committed; a rollback leaves nothing to send. ``actor`` did it (None: Ferry
    itself) and is not emailed about their own action; ``detail`` is what the message tells
    (usually the audit entry's detail).
    """
    now = timezone.now()
    rows = []
    for user, audience in recipients(event, job, actor, detail):
        message = message_for(event, job, audience, actor, detail)
        rows.append(
            Outbox(
                channel=Channel.EMAIL,
                recipient=user.email,
                event=event,
                subject=message.subject[:255],
                body=message.body,
                job=job,
                cloud_id=job.cloud_id,
                next_attempt_at=now,
            )
        )
    hook = (
        NotificationSettings.objects.filter(cloud_id=job.cloud_id, enabled=True)
        .exclude(webhook_url="")
        .first()
    )
    if hook is not None:
        rows.append(
            Outbox(
                channel=Channel.WEBHOOK,
                recipient=hook.webhook_url,
                event=event,
                payload=webhook_payload(event, job, actor, at=now),
                job=job,
                cloud_id=job.cloud_id,
                next_attempt_at=now,
            )
        )
    return Outbox.objects.bulk_create(rows)


def failed_count() -> int:
    """How many notifications Ferry gave up on (the dashboard's health area)."""
    return Outbox.objects.filter(state=OutboxState.FAILED).count()


def send_again(actor, rows: QuerySet[Outbox]) -> int:
    """Put notifications Ferry gave up on back in the queue, with a fresh count of attempts, once the
    mail server or webhook is back: a failed row is kept, never dropped, so nothing is lost for good.
    Only failed rows move; each is audited. Returns how many went back."""
    with transaction.atomic():
        failed = list(rows.select_for_update().filter(state=OutboxState.FAILED))
        for row in failed:
            record(
                actor, "notification.sent_again", row, detail={"event": row.event, "attempts": row.attempts}
            )
        Outbox.objects.filter(pk__in=[row.pk for row in failed]).update(
            state=OutboxState.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
    return len(failed)


# --- a cloud's webhook ---------------------------------------------------------------------------
SETTINGS_FIELDS = ("webhook_url", "secret", "enabled")


def settings_for(cloud: Cloud) -> NotificationSettings:
    """The cloud's notification settings: its row, else an unsaved one with the webhook off."""
    return NotificationSettings.objects.filter(cloud=cloud).first() or NotificationSettings(cloud=cloud)


def secret_hint(hook: NotificationSettings) -> str:
    """How the API and the page show a stored secret: whether there is one, never its value."""
    return "(set)" if hook.secret_encrypted else ""


def url_origin(url: str) -> str:
    """``url``'s scheme and host only (what non-admins see of a webhook)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…" if parts.scheme and parts.hostname else ""


def settings_values(hook: NotificationSettings) -> dict[str, Any]:
    """The settings as the audit trail shows them: the secret only as whether it is set."""
    return {"webhook_url": hook.webhook_url, "enabled": hook.enabled, "secret": secret_hint(hook)}


@transaction.atomic
def update_settings(actor, cloud: Cloud, changes: dict[str, Any]) -> NotificationSettings:
    """Change ``cloud``'s webhook (its admins only): URL, signing secret, enabled; audited with before
    and after, the secret only as set or not. Fields left out keep their value; an empty ``secret``
    keeps the stored one. Enabling needs a URL and a secret."""
    if not can(actor, CloudAction.ADMINISTER, cloud):
        raise PermissionDenied(f"You need the admin role on {cloud.slug} to change its notifications.")
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationError({name: "unknown field" for name in unknown})
    stored = NotificationSettings.objects.select_for_update().filter(cloud=cloud).first()
    hook = stored or NotificationSettings(cloud=cloud)
    before = settings_values(hook)
    secret_changed = False
    if "webhook_url" in changes:
        hook.webhook_url = str(changes["webhook_url"] or "").strip()
    if "enabled" in changes:
        hook.enabled = bool(changes["enabled"])
    secret = str(changes.get("secret") or "")
    if secret:
        if len(secret) < 16 or len(secret) > 512:
            raise ValidationError({"secret": "between 16 and 512 characters"})
        hook.secret_encrypted = encrypt(secret)
        secret_changed = True
    hook.full_clean(exclude=["cloud", "updated_by", "secret_encrypted"])
    if hook.enabled and not hook.webhook_url:
        raise ValidationError({"webhook_url": "required to enable the webhook"})
    if hook.enabled and not hook.secret_encrypted:
        raise ValidationError({"secret": "required to enable the webhook (receivers check the signature)"})
    after = settings_values(hook)
    if stored is not None and before == after and not secret_changed:
        return hook
    hook.updated_by = actor if actor is not None and actor.is_authenticated else None
    hook.save()
    detail = {"before": before, "after": after, "secret_changed": secret_changed}
    record(actor, "cloud.notifications_changed", cloud, detail=detail)
    return hook
