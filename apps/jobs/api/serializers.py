from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.jobs.models import Backend, Event, HostSummary, Job, JobKind, Step
from apps.jobs.services import MAX_LIMIT, MAX_REASON


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = [
            "id",
            "ordinal",
            "attempt",
            "position",
            "name",
            "action",
            "playbook",
            "extra_vars",
            "limit",
            "tags",
            "completes_release",
            "gate",
            "state",
            "rc",
            "started_at",
            "finished_at",
            "event_count",
        ]


class HostSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = HostSummary
        fields = ["host", "ok", "changed", "failed", "unreachable", "skipped"]


class JobSerializer(serializers.ModelSerializer):
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "cloud",
            "kind",
            "backend",
            "mutating",
            "state",
            "priority",
            "limit",
            "params",
            "requested_by",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "worker",
            "attempt",
            "cancel_requested",
            "current_step",
            "current_task",
            "event_count",
            "result",
            "warning",
            "scheduled_for",
            "scheduled_reason",
            "emergency",
            "emergency_reason",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    steps = StepSerializer(many=True, read_only=True)
    host_summaries = HostSummarySerializer(many=True, read_only=True)
    approval = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "steps", "host_summaries", "approval"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {}, "nullable": True})
    def get_approval(self, job: Job) -> dict | None:
        """The job's approval request and approvals (apps.approvals); null if it never needed one."""
        from apps.approvals.api.serializers import approval_json

        return approval_json(job)


class JobLaunchSerializer(serializers.Serializer):
    """What an operator asks for. Mutating kinds need ``confirm: true``; unknown fields are refused.
    A mutating job launched outside its cloud's maintenance windows is scheduled for the next
    opening, unless it is an ``emergency`` (with ``emergency_reason``).

    ``params`` are the kind's own (see the planner's table of kinds); the service checks each one.
    """

    cloud = serializers.SlugField(max_length=64)
    kind = serializers.ChoiceField(choices=JobKind.choices)
    params = serializers.DictField(required=False, default=dict)
    limit = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_LIMIT)
    priority = serializers.IntegerField(required=False, default=0, min_value=-100, max_value=100)
    backend = serializers.ChoiceField(choices=Backend.choices, required=False, default=Backend.LAB)
    confirm = serializers.BooleanField(required=False, default=False)
    # Why the job is wanted: required where the cloud's policy asks for approvers (they read it).
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_REASON)
    wanted_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    emergency = serializers.BooleanField(
        required=False,
        default=False,
        help_text="start a mutating job now, outside the cloud's maintenance windows and freezes (audited)",
    )
    emergency_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_REASON,
        help_text="required with emergency",
    )

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs


class JobResumeSerializer(serializers.Serializer):
    """Resuming a mutating job needs ``confirm: true`` again."""

    confirm = serializers.BooleanField(required=False, default=False)


class JobGateSerializer(serializers.Serializer):
    """Continuing or aborting a job that waits at a gate needs a reason, kept in the audit trail."""

    reason = serializers.CharField(max_length=MAX_REASON, trim_whitespace=True)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "seq",
            "step",
            "counter",
            "uuid",
            "event",
            "host",
            "task",
            "play",
            "stdout",
            "start_line",
            "end_line",
            "created",
            "event_data",
        ]
