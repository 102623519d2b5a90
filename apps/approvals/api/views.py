"""The approvals API: approve or deny a job, the jobs awaiting your approval, a cloud's policy."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from apps.approvals import services
from apps.approvals.api.serializers import (
    ApprovalDecisionSerializer,
    ApprovalPolicySerializer,
    ApprovalPolicyUpdateSerializer,
)
from apps.clouds.permissions import get_cloud_for
from apps.jobs.api.serializers import JobSerializer
from apps.jobs.api.views import job_id
from apps.jobs.permissions import get_job_for
from portal.drf import as_drf_error

QUEUE_LIMIT = 500

ApprovalAnswer = inline_serializer(
    "ApprovalAnswer",
    {
        "job": JobSerializer(),
        "counted": serializers.BooleanField(),
        "released": serializers.BooleanField(),
        "approvals": serializers.IntegerField(),
        "required": serializers.IntegerField(),
        "message": serializers.CharField(),
    },
)


@extend_schema(
    request=ApprovalDecisionSerializer,
    responses={200: ApprovalAnswer, 409: ApprovalAnswer},
    description=(
        "Approve a job awaiting approval (the approver role on its cloud; never your own job). The "
        "approval that reaches the cloud's policy releases it: queued, or scheduled for its next "
        "maintenance window. 409 when the plan changed since it was asked for: the earlier approvals "
        "lapsed, the job holds the new plan, read it and approve again."
    ),
)
@api_view(["POST"])
def approve_view(request: Request, pk: str) -> Response:
    """Approve a job's plan."""
    job = get_job_for(request.user, job_id(pk))
    form = ApprovalDecisionSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        outcome = services.approve_job(
            request.user,
            job,
            reason=form.validated_data["reason"],
            plan_hash=form.validated_data["plan_hash"],
        )
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
    body = {
        "job": JobSerializer(outcome.job).data,
        "counted": outcome.counted,
        "released": outcome.released,
        "approvals": outcome.approvals,
        "required": outcome.required,
        "message": outcome.message,
    }
    return Response(body, status=status.HTTP_200_OK if outcome.counted else status.HTTP_409_CONFLICT)


@extend_schema(
    request=ApprovalDecisionSerializer,
    responses={200: JobSerializer},
    description="Deny a job awaiting approval, with a `reason` (required): it ends denied, nothing runs.",
)
@api_view(["POST"])
def deny_view(request: Request, pk: str) -> Response:
    """Deny a job."""
    job = get_job_for(request.user, job_id(pk))
    form = ApprovalDecisionSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        job = services.deny_job(request.user, job, reason=form.validated_data["reason"])
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
    return Response(JobSerializer(job).data)


@extend_schema(responses={200: JobSerializer(many=True)})
@api_view(["GET"])
def queue_view(request: Request) -> Response:
    """The jobs awaiting approval that you may approve now, oldest first."""
    jobs = services.awaiting_for(request.user).select_related("cloud", "requested_by").order_by("id")
    return Response(JobSerializer(jobs[:QUEUE_LIMIT], many=True).data)


@extend_schema(
    methods=["GET"],
    responses={200: ApprovalPolicySerializer},
    description="The cloud's approval policy (its own, or the settings' defaults while it has none).",
)
@extend_schema(
    methods=["PUT", "PATCH"],
    request=ApprovalPolicyUpdateSerializer,
    responses={200: ApprovalPolicySerializer},
    description="Change the cloud's approval policy (its admins); audited with before and after.",
)
@api_view(["GET", "PUT", "PATCH"])
def policy_view(request: Request, slug: str) -> Response:
    """A cloud's approval policy."""
    cloud = get_cloud_for(request.user, slug)
    if request.method == "GET":
        return Response(ApprovalPolicySerializer(services.policy_for(cloud)).data)
    form = ApprovalPolicyUpdateSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        policy = services.update_policy(request.user, cloud, dict(form.validated_data))
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
    return Response(ApprovalPolicySerializer(policy).data)
