from rest_framework import serializers

from apps.approvals.models import MAX_APPROVERS, MAX_TTL_HOURS, Approval, ApprovalPolicy, ApprovalRequest
from apps.jobs.services import MAX_REASON


class ApprovalPolicySerializer(serializers.ModelSerializer):
    """A cloud's change-control rules; ``own`` is false while it follows the settings' defaults."""

    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)  # null until first saved
    own = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalPolicy
        fields = [
            "cloud",
            "approvals_required",
            "request_ttl_hours",
            "gates_need_approver",
            "emergency_allowed",
            "emergency_approvals",
            "own",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields

    def get_own(self, policy: ApprovalPolicy) -> bool:
        return policy.pk is not None


class ApprovalPolicyUpdateSerializer(serializers.Serializer):
    """What a cloud's admin changes; fields left out keep their value, unknown fields are refused."""

    approvals_required = serializers.IntegerField(required=False, min_value=0, max_value=MAX_APPROVERS)
    request_ttl_hours = serializers.IntegerField(required=False, min_value=1, max_value=MAX_TTL_HOURS)
    gates_need_approver = serializers.BooleanField(required=False)
    emergency_allowed = serializers.BooleanField(required=False)
    emergency_approvals = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_APPROVERS
    )

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: "unknown field" for name in unknown})
        return attrs


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Approval
        fields = ["approver", "plan_hash", "reason", "created_at", "lapsed_at"]
        read_only_fields = fields


class ApprovalRequestSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "state",
            "reason",
            "wanted_at",
            "plan_hash",
            "requested_at",
            "expires_at",
            "decided_at",
            "decided_by",
            "decision",
        ]
        read_only_fields = fields


class ApprovalDecisionSerializer(serializers.Serializer):
    """An approver's decision: ``reason`` (required to deny) and, to approve, optionally the
    ``plan_hash`` they read, so that a plan changed since is not approved unread."""

    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_REASON)
    plan_hash = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


def approval_json(job) -> dict | None:
    """``job``'s approval as the job's API shows it: the request, every approval (lapsed ones too)
    and how many it needs now; None for a job that never needed approval."""
    from apps.approvals.services import approvals_needed

    request = ApprovalRequest.objects.filter(job=job).select_related("decided_by").first()
    if request is None:
        return None
    approvals = Approval.objects.filter(job=job).select_related("approver").order_by("id")
    return {
        **ApprovalRequestSerializer(request).data,
        "required": approvals_needed(job),
        "approvals": ApprovalSerializer(approvals, many=True).data,
    }
