"""Change control: who must approve a cloud's mutating jobs, and who did.

A job that needs approvers is stored ``awaiting_approval`` with its plan (its steps) and an
``ApprovalRequest`` holding the plan's hash; each ``Approval`` is bound to that hash and lapses when
the plan changes under it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.clouds.models import Cloud
from apps.jobs.models import Job

MAX_APPROVERS = 10
MAX_TTL_HOURS = 24 * 90


class ApprovalPolicy(models.Model):
    """One cloud's change-control rules. A cloud without a row follows the settings
    (``FERRY_APPROVALS_REQUIRED``, ``FERRY_APPROVAL_TTL_HOURS``); the row is created the first time
    an admin of the cloud changes them."""

    cloud = models.OneToOneField(Cloud, on_delete=models.CASCADE, related_name="approval_policy")
    approvals_required = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(MAX_APPROVERS)],
        help_text="distinct approvers a mutating job needs before it is queued; 0: none (lab clouds)",
    )
    request_ttl_hours = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TTL_HOURS)],
        help_text="hours a request waits for its approvers before it expires",
    )
    gates_need_approver = models.BooleanField(
        default=False, help_text="continuing a job waiting at a gate needs the approver role too"
    )
    emergency_allowed = models.BooleanField(
        default=True, help_text="a mutating job may be launched as an emergency, outside the windows"
    )
    emergency_approvals = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_APPROVERS)],
        help_text="distinct approvers an emergency needs; empty: as many as any other job",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return f"approval policy of {self.cloud_id}"


class RequestState(models.TextChoices):
    PENDING = "pending", "pending"
    APPROVED = "approved", "approved"
    DENIED = "denied", "denied"
    EXPIRED = "expired", "expired"
    WITHDRAWN = "withdrawn", "withdrawn"


class ApprovalRequest(models.Model):
    """A job's request for approval: why the requester wants it, when, and the hash of the plan
    the approvers are asked to approve (``apps.jobs.preview``'s hash over the steps and the cloud's
    configuration revision)."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="approval_request")
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.PENDING)
    reason = models.CharField(max_length=500, help_text="why the requester wants it")
    wanted_at = models.DateTimeField(
        null=True, blank=True, help_text="when the requester would like it to run"
    )
    plan_hash = models.CharField(max_length=64, help_text="the hash of the plan awaiting approval")
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=500, blank=True, help_text="the denial's reason")

    def __str__(self) -> str:
        return f"approval request of job {self.job_id} ({self.state})"


class Approval(models.Model):
    """One approver's yes to one plan of a job. It lapses (``lapsed_at``) when the plan changes;
    an approver counts once per plan."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    plan_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    lapsed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "approver"],
                condition=Q(lapsed_at__isnull=True),
                name="one_live_approval_per_approver",
            )
        ]

    def __str__(self) -> str:
        return f"approval of job {self.job_id} by {self.approver_id}"
