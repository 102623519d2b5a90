from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.clouds.models import Cloud
from runner.planner import KINDS, STEP_NAME_CHARS

# Kinds come from the planner's one table; nothing else lists them.
JobKind = models.TextChoices(
    "JobKind", [(name.upper().replace("-", "_"), (name, spec.label)) for name, spec in KINDS.items()]
)
READ_ONLY_KINDS = frozenset(name for name, spec in KINDS.items() if not spec.mutating)
# The events of a task that failed on a host, or of a host Ansible could not reach.
FAILURE_EVENTS = ["runner_on_failed", "runner_on_unreachable"]


class JobState(models.TextChoices):
    PENDING = "pending", "pending"
    # A mutating job whose cloud's policy asks for approvers: planned, holding nothing (apps.approvals).
    AWAITING_APPROVAL = "awaiting_approval", "awaiting approval"
    # A mutating job launched (or approved) outside its cloud's maintenance windows: queued when one opens.
    SCHEDULED = "scheduled", "scheduled"
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    CANCELING = "canceling", "canceling"
    WAITING = "waiting", "waiting"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELED = "canceled", "canceled"
    LOST = "lost", "lost"
    DENIED = "denied", "denied"  # an approver refused it; nothing ran
    EXPIRED = "expired", "expired"  # no approver decided within the policy's time; nothing ran


# Active jobs hold a worker slot and beat a heartbeat; the reaper watches only them.
ACTIVE_STATES = (JobState.RUNNING, JobState.CANCELING)
# A mutating job in these states holds its cloud's lock. A job waiting at a gate holds the lock but
# no worker slot: nothing runs until a person continues or aborts it.
LOCKING_STATES = (JobState.RUNNING, JobState.CANCELING, JobState.WAITING)
FINISHED_STATES = (
    JobState.SUCCEEDED,
    JobState.FAILED,
    JobState.CANCELED,
    JobState.LOST,
    JobState.DENIED,
    JobState.EXPIRED,
)

# The only transitions a job may take; services apply them with conditional updates.
TRANSITIONS: dict[str, set[str]] = {
    JobState.PENDING: {JobState.QUEUED, JobState.SCHEDULED, JobState.CANCELED},
    # Approved: queued or scheduled (apps.approvals.services.release_approved, then the windows);
    # else denied, expired or withdrawn.
    JobState.AWAITING_APPROVAL: {
        JobState.QUEUED,
        JobState.SCHEDULED,
        JobState.DENIED,
        JobState.EXPIRED,
        JobState.CANCELED,
    },
    # queued -> scheduled: a resumed job whose cloud is outside its windows (apps.windows.services).
    JobState.QUEUED: {JobState.RUNNING, JobState.CANCELED, JobState.SCHEDULED},
    JobState.SCHEDULED: {JobState.QUEUED, JobState.CANCELED},
    # running -> queued only while no worker has claimed it (services.requeue_unclaimed).
    JobState.RUNNING: {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELING,
        JobState.LOST,
        JobState.QUEUED,
        JobState.WAITING,  # a step that is a gate succeeded
        # its approved plan no longer holds when the worker starts it: approve the new one
        JobState.AWAITING_APPROVAL,
    },
    # continue hands it straight to a worker (the lock never lapses); abort ends it.
    JobState.WAITING: {JobState.RUNNING, JobState.CANCELED},
    JobState.CANCELING: {JobState.CANCELED, JobState.FAILED, JobState.SUCCEEDED, JobState.LOST},
    JobState.FAILED: {JobState.QUEUED},  # resume
    JobState.LOST: {JobState.QUEUED},  # resume
    JobState.CANCELED: {JobState.QUEUED},  # resume
    JobState.SUCCEEDED: set(),
    JobState.DENIED: set(),
    JobState.EXPIRED: set(),
}


class Backend(models.TextChoices):
    LAB = "lab", "lab (local directories)"
    KOLLA = "kolla-ansible", "kolla-ansible"


class Job(models.Model):
    """A lifecycle operation on a cloud: an ordered list of steps run by one worker.

    ``mutating`` jobs hold the cloud's lock while they run: the partial unique
    constraint below lets the database, not Python, refuse a second one.
    """

    cloud = models.ForeignKey(Cloud, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField(max_length=32, choices=JobKind.choices)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LAB)
    mutating = models.BooleanField()
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.PENDING, db_index=True)
    priority = models.SmallIntegerField(default=0, help_text="higher starts first when slots free")
    limit = models.CharField(max_length=1000, blank=True, help_text="Ansible --limit: cells or hosts")
    params = models.JSONField(default=dict, blank=True, help_text="kind-specific: target release, cells…")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    # None for jobs planned before Ferry kept it: their plan is not checked again.
    from_release = models.CharField(
        max_length=16, null=True, blank=True, help_text="the release the cloud ran when the job was planned"
    )
    # The request that launched (or last resumed) the job: the worker's audit entries carry it.
    request_id = models.CharField(max_length=64, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    current_step = models.PositiveSmallIntegerField(null=True, blank=True)
    current_task = models.CharField(max_length=500, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    result = models.CharField(max_length=1000, blank=True, help_text="what happened, for people")
    warning = models.TextField(
        blank=True, help_text="what the plan warned of at launch: the data a restore or rollback loses"
    )
    # Change control (apps.windows): when a scheduled job is due, and why it waits.
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="when a scheduled job's maintenance window opens"
    )
    scheduled_reason = models.CharField(
        max_length=1000, blank=True, help_text="why it waits: outside its windows, or a change freeze"
    )
    # An emergency launch starts outside the windows and through freezes; approvals may ask more of it.
    emergency = models.BooleanField(
        default=False, help_text="launched as an emergency, outside change control"
    )
    emergency_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "-priority", "id"], name="job_queue_order")]
        constraints = [
            models.UniqueConstraint(
                fields=["cloud"],
                condition=Q(mutating=True, state__in=["running", "canceling", "waiting"]),
                name="one_running_mutating_job_per_cloud",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.cloud}"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES


class StepState(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELED = "canceled", "canceled"
    LOST = "lost", "lost"
    SKIPPED = "skipped", "skipped"


class Step(models.Model):
    """One ansible-runner invocation of a job: a playbook with its variables, limit and tags.

    A resumed job keeps the steps of its earlier attempts and adds new rows
    with a higher ``attempt`` from the step that failed.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps")
    ordinal = models.PositiveIntegerField(help_text="1, 2, 3… across every attempt of the job")
    position = models.PositiveSmallIntegerField()
    attempt = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(max_length=STEP_NAME_CHARS)
    action = models.CharField(max_length=64, help_text="the kolla-ansible action this step plays")
    playbook = models.CharField(max_length=200)
    extra_vars = models.JSONField(default=dict, blank=True)
    user_vars = models.JSONField(
        default=dict, blank=True, help_text="values a person chose; Ansible gets them unsafe, never templated"
    )
    limit = models.CharField(max_length=1000, blank=True)
    tags = models.CharField(max_length=500, blank=True)
    completes_release = models.CharField(
        max_length=7, blank=True, help_text="the cloud runs it once this succeeds"
    )
    gate = models.BooleanField(default=False, help_text="the job waits for a person once this succeeds")
    state = models.CharField(max_length=16, choices=StepState.choices, default=StepState.PENDING)
    rc = models.IntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["job", "attempt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "attempt", "position"], name="one_step_per_position"),
            models.UniqueConstraint(fields=["job", "ordinal"], name="one_step_per_ordinal"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.attempt}.{self.position} {self.name}"


class WrittenJSONField(models.JSONField):
    """JSON that is stored as written and read back whole: PostgreSQL's ``json``, not ``jsonb``.

    ``json`` only checks the text, where ``jsonb`` converts it to its binary form, which costs server
    time on every insert (docs/benchmarks.md, "History"). Event data is never searched inside, so
    nothing is lost. Other databases keep Django's JSON type.
    """

    def db_type(self, connection):
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        # psycopg decodes ``json`` itself (Django only asks it not to for ``jsonb``).
        return (
            value
            if value is None or not isinstance(value, str)
            else super().from_db_value(value, expression, connection)
        )


class Event(models.Model):
    """One ansible-runner event of a step, stored once however often it is delivered.

    ``seq`` orders a job's events across steps and attempts: the step's
    ordinal times ``SEQ_STEP`` plus the runner's counter. Clients resume from it.
    """

    SEQ_STEP = 1_000_000_000

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events", db_index=False)
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="events", db_index=False)
    counter = models.PositiveIntegerField()
    seq = models.BigIntegerField()
    uuid = models.CharField(max_length=36, blank=True)
    event = models.CharField(max_length=64)
    host = models.CharField(max_length=255, blank=True)
    task = models.CharField(max_length=500, blank=True)
    play = models.CharField(max_length=500, blank=True)
    stdout = models.TextField(blank=True)
    start_line = models.PositiveIntegerField(default=0)
    end_line = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(null=True, blank=True)
    event_data = WrittenJSONField(default=dict, blank=True)

    class Meta:
        ordering = ["job", "seq"]
        # seq is the step's ordinal (unique in the job) and the counter: one unique index on (job, seq)
        # both keeps an event from being stored twice and serves every read, which goes by position.
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="one_event_per_seq")]
        # The job page lists a job's failures (apps.jobs.findings): this holds only failed and
        # unreachable events, a handful per job, so finding them never reads a long job's log.
        indexes = [
            models.Index(
                fields=["job", "seq"],
                condition=Q(event__in=FAILURE_EVENTS),
                name="event_failures",
            )
        ]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.step_id}#{self.counter} {self.event}"


class HostSummary(models.Model):
    """Per-host totals of a job, kept current as events arrive."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="host_summaries")
    host = models.CharField(max_length=255)
    ok = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unreachable = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["job", "host"]
        constraints = [models.UniqueConstraint(fields=["job", "host"], name="one_summary_per_host")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.host}"


class SlotPool(models.Model):
    """A single row locked while starting jobs, so two dispatchers never overfill the slots."""

    name = models.CharField(max_length=32, unique=True, default="default")

    def __str__(self) -> str:
        return self.name
