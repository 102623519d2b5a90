from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from apps.clouds.permissions import CloudAction, get_cloud_for
from apps.jobs import services
from apps.jobs.api.filters import JobFilterSet
from apps.jobs.api.serializers import (
    EventSerializer,
    JobDetailSerializer,
    JobGateSerializer,
    JobLaunchSerializer,
    JobResumeSerializer,
    JobSerializer,
)
from apps.jobs.models import Backend, Event
from apps.jobs.permissions import MAX_BIGINT, get_job_for, jobs_for, parse_number
from apps.jobs.preview import plan_preview
from portal.drf import as_drf_error
from portal.pagination import NewestFirstPagination

MAX_EVENTS_PAGE = 5000


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Jobs of the clouds you can see. Launch with POST; cancel and resume with their actions."""

    filterset_class = JobFilterSet
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        queryset = jobs_for(self.request.user).select_related("cloud", "requested_by")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("steps", "host_summaries")
        return queryset

    def get_serializer_class(self):
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer

    def get_object(self):
        self.kwargs["pk"] = job_id(self.kwargs["pk"])
        return super().get_object()

    @extend_schema(request=JobLaunchSerializer, responses={201: JobDetailSerializer})
    def create(self, request):
        """Plan and queue a job. Mutating kinds need ``"confirm": true``; on a cloud whose approval
        policy asks for approvers they also need a ``reason`` and await approval first. Outside the
        cloud's maintenance windows they are stored ``scheduled`` (see ``scheduled_for`` and
        ``scheduled_reason``) unless ``"emergency": true`` with an ``emergency_reason``."""
        form = JobLaunchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        cloud = get_cloud_for(request.user, data["cloud"], CloudAction.OPERATE)
        try:
            job = services.launch_job(
                request.user,
                cloud,
                data["kind"],
                params=data["params"],
                limit=data["limit"],
                priority=data["priority"],
                backend=data["backend"],
                confirmed=data["confirm"],
                reason=data["reason"],
                wanted_at=data["wanted_at"],
                emergency=data["emergency"],
                emergency_reason=data["emergency_reason"],
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        job = self.get_queryset().prefetch_related("steps", "host_summaries").get(pk=job.pk)
        return Response(JobDetailSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued job, or stop a running one within two seconds."""
        job = get_job_for(request.user, job_id(pk), CloudAction.OPERATE)
        try:
            job = services.cancel_job(request.user, job)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=JobResumeSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed, lost or canceled job again from the step that did not finish.

        A mutating job needs ``"confirm": true`` again; a job whose plan no longer holds is refused.
        """
        job = get_job_for(request.user, job_id(pk), CloudAction.OPERATE)
        form = JobResumeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            job = services.resume_job(request.user, job, confirmed=form.validated_data["confirm"])
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=JobGateSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"], url_path="continue")
    def continue_(self, request, pk=None):
        """Let a job waiting at a gate run its remaining steps; ``reason`` is required."""
        return self._gate(request, pk, services.continue_job)

    @extend_schema(request=JobGateSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        """End a job waiting at a gate as canceled, releasing its cloud; ``reason`` is required."""
        return self._gate(request, pk, services.abort_job)

    def _gate(self, request, pk, decide):
        job = get_job_for(request.user, job_id(pk), CloudAction.OPERATE)
        form = JobGateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            job = decide(request.user, job, reason=form.validated_data["reason"])
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.INT, description="return events with seq greater than this"
            ),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"at most this many (≤ {MAX_EVENTS_PAGE})"
            ),
        ],
        responses={
            200: inline_serializer(
                "EventPage",
                {
                    "events": EventSerializer(many=True),
                    "next_after": serializers.IntegerField(allow_null=True),
                },
            )
        },
    )
    @action(detail=True, methods=["get"])
    def events(self, request, pk=None):
        """Events in order, after a position (keyset on seq; never counts)."""
        job = get_job_for(request.user, job_id(pk))
        after = _int(request, "after", 0, most=MAX_BIGINT)
        limit = _int(request, "limit", 1000, least=1, most=MAX_EVENTS_PAGE)
        rows = list(Event.objects.filter(job=job, seq__gt=after).order_by("seq")[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Response(
            {
                "events": EventSerializer(rows, many=True).data,
                "next_after": rows[-1].seq if more else None,
            }
        )


def job_id(raw: str) -> int:
    """The job id in a URL; 404 naming it when it is not one."""
    number = parse_number(raw)
    if number is None:
        raise NotFound(f"No job {raw[:40]!r}: a job id is a positive whole number.")
    return number


def _int(request, name: str, default: int, *, least: int = 0, most: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: "must be an integer"}) from None
    if not least <= value <= most:
        if least:
            raise ValidationError({name: f"must be between {least} and {most}"})
        raise ValidationError({name: f"must be at least {least} and at most {most}"})
    return value


PLAN_QUERY = {"kind", "backend", "format"}


@extend_schema(
    parameters=[
        OpenApiParameter("kind", OpenApiTypes.STR, required=True, description="the job kind to plan"),
        OpenApiParameter("backend", OpenApiTypes.STR, description="lab (default) or kolla-ansible"),
    ],
    responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
    description=(
        "The plan of a job on this cloud before anything runs: its steps with the kolla-ansible "
        "command each stands for, the upgrade hops, a hash of the plan and the cloud's configuration, "
        "and an estimate from past runs. Every other query parameter is a parameter of the kind "
        "(e.g. `target_release`). Nothing is created."
    ),
)
@api_view(["GET"])
def plan_view(request, slug: str):
    """Preview a job's plan; a 400 names the field when it cannot be planned."""
    cloud = get_cloud_for(request.user, slug)
    kind = request.query_params.get("kind") or ""
    params = {k: v for k, v in request.query_params.items() if k not in PLAN_QUERY}
    try:
        preview = plan_preview(cloud, kind, params, request.query_params.get("backend") or Backend.LAB)
    except DjangoValidationError as exc:
        raise as_drf_error(exc) from None
    return Response(preview)
