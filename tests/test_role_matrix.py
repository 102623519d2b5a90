"""One matrix of who may read or change a cloud's things: every page and API endpoint, driven as a
global admin, as a member of the cloud with each role, and as an outsider (an admin of another cloud
only), asserting the exact answer and whether the change happened.

What each endpoint allows follows its permission function (``apps.clouds.permissions.can`` through
``get_cloud_for`` and ``get_job_for``): viewers read, operators act on jobs, approvers approve and
deny, admins change the cloud's definition, and a global admin may do everything. A member whose
role does not allow something gets 403; the outsider cannot see the cloud at all and gets 404.
Lists answer everyone 200 and show the cloud's rows only to those who may see it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.approvals.models import Approval, ApprovalPolicy
from apps.audit.services import record
from apps.backups.models import Backup
from apps.clouds import services as clouds
from apps.clouds.models import Cloud, CloudFile, CloudMembership
from apps.jobs import services as jobs
from apps.jobs.models import Job, JobState, StepState
from apps.notifications.models import NotificationSettings
from apps.windows.models import ChangeFreeze, MaintenanceWindow
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["global_admin", "viewer", "operator", "approver", "admin", "outsider"]
VIEW = frozenset({"global_admin", "viewer", "operator", "approver", "admin"})
OPERATE = frozenset({"global_admin", "operator", "admin"})
APPROVE = frozenset({"global_admin", "approver", "admin"})
ADMINISTER = frozenset({"global_admin", "admin"})
ROLLOUT = {"target_release": "2025.2", "canary": "cell2"}


class World:
    """The demo cloud as one persona meets it: logged-in clients, and the things each endpoint acts
    on, made when a case first asks for them (by someone else: a requester who operates the cloud)."""

    def __init__(self, persona: str, user, demo: Cloud, requester, settings):
        self.persona, self.user, self.demo, self.requester = persona, user, demo, requester
        self.settings = settings
        self.page = Client()
        self.page.force_login(user)
        self.api = APIClient()
        self.api.force_authenticate(user)

    @cached_property
    def queued_job(self) -> Job:
        return jobs.launch_job(self.requester, self.demo, "prechecks")

    @cached_property
    def failed_job(self) -> Job:
        job = jobs.launch_job(self.requester, self.demo, "prechecks")
        Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, finished_at=timezone.now())
        job.steps.update(state=StepState.FAILED)
        return Job.objects.get(pk=job.pk)

    @cached_property
    def waiting_job(self) -> Job:
        """A cell rollout waiting after its canary, as the worker leaves it."""
        job = jobs.launch_job(self.requester, self.demo, "cell-rollout", params=ROLLOUT, confirmed=True)
        gate = job.steps.filter(gate=True).order_by("position").first()
        job.steps.filter(position__lte=gate.position).update(
            state=StepState.SUCCEEDED, started_at=timezone.now(), finished_at=timezone.now()
        )
        Job.objects.filter(pk=job.pk).update(state=JobState.WAITING, started_at=timezone.now())
        return Job.objects.get(pk=job.pk)

    @cached_property
    def awaiting_job(self) -> Job:
        self.settings.FERRY_APPROVALS_REQUIRED = 1
        job = jobs.launch_job(
            self.requester, self.demo, "reconfigure", confirmed=True, reason="rotate the certificates"
        )
        assert job.state == JobState.AWAITING_APPROVAL
        return job

    @cached_property
    def backup(self) -> Backup:
        return Backup.objects.create(
            cloud=self.demo,
            kind="full",
            taken_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            node="control01",
            name="mysqlbackup-01-12-2026-1.qp.xbc.xbs.gz",
            state="verified",
        )

    @cached_property
    def window(self) -> MaintenanceWindow:
        return MaintenanceWindow.objects.create(
            cloud=self.demo, weekdays=[1], start_time=time(1), duration=timedelta(hours=1), timezone="UTC"
        )

    @cached_property
    def freeze(self) -> ChangeFreeze:
        now = timezone.now()
        return ChangeFreeze.objects.create(
            cloud=self.demo, starts_at=now, ends_at=now + timedelta(days=1), reason="audit week"
        )

    @cached_property
    def newcomer(self):
        return UserFactory(username="nina-newcomer")

    @cached_property
    def newcomer_membership(self) -> CloudMembership:
        return CloudMembership.objects.create(cloud=self.demo, user=self.newcomer, role="viewer")

    @cached_property
    def config_file(self) -> CloudFile:
        return CloudFile.objects.create(
            cloud=self.demo, area="config", path="nova.conf", content=b"[DEFAULT]\n"
        )

    @cached_property
    def probe_entry(self):
        """An audit entry of the demo cloud, by someone else."""
        return record(self.requester, "test.matrix_probe", self.demo)

    def job_state(self, job: Job) -> str:
        return Job.objects.get(pk=job.pk).state


@dataclass(frozen=True)
class Case:
    """One endpoint: who may use it, what it answers them, and what it answers everyone else.

    ``act`` sends the request and says whether its effect took place (or, for a list, whether the
    cloud's row is in it); None where there is nothing to look at but the answer."""

    name: str
    holders: frozenset[str]
    allowed: int
    act: Callable[[World], tuple[object, bool | None]]
    denied: int = 403
    hidden: int = 404


CASES: list[Case] = []


def case(name: str, holders: frozenset[str], allowed: int, *, denied: int = 403, hidden: int = 404):
    def register(act):
        CASES.append(Case(name, holders, allowed, act, denied, hidden))
        return act

    return register


def listing(name: str, holders: frozenset[str] = VIEW):
    """A list everyone may read, showing the cloud's rows to ``holders`` only."""
    return case(name, holders, 200, denied=200, hidden=200)


# --- the cloud and its definition -------------------------------------------------------------------
@listing("page: cloud list")
def cloud_list_page(w):
    response = w.page.get("/clouds/")
    return response, "/clouds/demo/" in response.content.decode()


@listing("api: cloud list")
def cloud_list_api(w):
    response = w.api.get("/api/clouds/")
    return response, "demo" in {c["slug"] for c in response.json()["results"]}


@listing("page: dashboard")
def dashboard_page(w):
    response = w.page.get("/")
    return response, "/clouds/demo/" in response.content.decode()


@case("page: cloud detail", VIEW, 200)
def cloud_detail_page(w):
    return w.page.get("/clouds/demo/"), None


@case("page: cloud hosts", VIEW, 200)
def cloud_hosts_page(w):
    return w.page.get("/clouds/demo/hosts/"), None


@case("page: cloud support", VIEW, 200)
def cloud_support_page(w):
    return w.page.get("/clouds/demo/support/"), None


@case("page: cloud files", VIEW, 200)
def cloud_files_page(w):
    return w.page.get("/clouds/demo/files/"), None


@case("page: cloud edit form", ADMINISTER, 200)
def cloud_edit_page(w):
    return w.page.get("/clouds/demo/edit/"), None


@case("api: cloud detail", VIEW, 200)
def cloud_detail_api(w):
    return w.api.get("/api/clouds/demo/"), None


@case("api: cloud edit", ADMINISTER, 200)
def cloud_edit_api(w):
    response = w.api.patch("/api/clouds/demo/", {"description": "changed"}, format="json")
    return response, Cloud.objects.get(pk=w.demo.pk).description == "changed"


@listing("api: hosts list")
def hosts_api(w):
    response = w.api.get("/api/hosts/")
    return response, "demo" in {h["cloud"] for h in response.json()["results"]}


@case("api: config files list", VIEW, 200)
def files_list_api(w):
    assert w.config_file  # a file to list
    return w.api.get("/api/clouds/demo/files/"), None


@case("api: config file add", ADMINISTER, 201)
def file_add_api(w):
    body = {"area": "config", "path": "matrix.conf", "content": "[DEFAULT]\n"}
    response = w.api.post("/api/clouds/demo/files/", body, format="json")
    return response, w.demo.files.filter(path="matrix.conf").exists()


@case("api: config file delete", ADMINISTER, 204)
def file_delete_api(w):
    response = w.api.delete(f"/api/clouds/demo/files/{w.config_file.pk}/")
    return response, not CloudFile.objects.filter(pk=w.config_file.pk).exists()


@case("page: inventory import form", ADMINISTER, 200)
def import_page(w):
    return w.page.get("/clouds/demo/import/"), None


@case("api: inventory import", ADMINISTER, 200)
def import_api(w):
    upload = io.BytesIO(b"[control]\nctl01 ansible_host=10.0.0.11\n[compute]\ncmp01\n")
    upload.name = "multinode"
    response = w.api.post("/api/clouds/demo/import-inventory/", {"inventory": upload}, format="multipart")
    return response, w.demo.hosts.count() == 2


@listing("api: cells list")
def cells_api(w):
    response = w.api.get("/api/cells/")
    return response, "demo" in {c["cloud"] for c in response.json()["results"]}


@case("api: cell", VIEW, 200)
def cell_api(w):
    return w.api.get(f"/api/cells/{w.demo.cells.order_by('id').first().pk}/"), None


@case("api: host", VIEW, 200)
def host_api(w):
    return w.api.get(f"/api/hosts/{w.demo.hosts.order_by('id').first().pk}/"), None


@case("api: config file", VIEW, 200)
def file_api(w):
    return w.api.get(f"/api/clouds/demo/files/{w.config_file.pk}/"), None


@case("page: config file upload", ADMINISTER, 302)
def file_upload_page(w):
    upload = io.BytesIO(b"[DEFAULT]\n")
    upload.name = "matrix.conf"
    response = w.page.post("/clouds/demo/files/", {"area": "config", "path": "matrix.conf", "file": upload})
    return response, w.demo.files.filter(path="matrix.conf").exists()


@case("page: config file delete", ADMINISTER, 302)
def file_delete_page(w):
    response = w.page.post(f"/clouds/demo/files/{w.config_file.pk}/delete/")
    return response, not CloudFile.objects.filter(pk=w.config_file.pk).exists()


# --- members ----------------------------------------------------------------------------------------
@case("api: members list", VIEW, 200)
def members_api(w):
    return w.api.get("/api/clouds/demo/members/"), None


@case("api: member grant", ADMINISTER, 201)
def member_grant_api(w):
    body = {"username": w.newcomer.username, "role": "viewer"}
    response = w.api.post("/api/clouds/demo/members/", body, format="json")
    return response, w.newcomer.cloud_memberships.filter(cloud=w.demo).exists()


@case("api: member revoke", ADMINISTER, 204)
def member_revoke_api(w):
    response = w.api.delete(f"/api/clouds/demo/members/{w.newcomer_membership.pk}/")
    return response, not CloudMembership.objects.filter(pk=w.newcomer_membership.pk).exists()


@case("page: member grant", ADMINISTER, 302)
def member_grant_page(w):
    response = w.page.post("/clouds/demo/members/", {"username": w.newcomer.username, "role": "viewer"})
    return response, w.newcomer.cloud_memberships.filter(cloud=w.demo).exists()


@case("page: member revoke", ADMINISTER, 302)
def member_revoke_page(w):
    response = w.page.post(f"/clouds/demo/members/{w.newcomer_membership.pk}/remove/")
    return response, not CloudMembership.objects.filter(pk=w.newcomer_membership.pk).exists()


# --- launching and planning -------------------------------------------------------------------------
@case("page: launch form", OPERATE, 200)
def launch_form_page(w):
    return w.page.get("/clouds/demo/jobs/new/"), None


@case("page: launch", OPERATE, 302)
def launch_page(w):
    response = w.page.post("/clouds/demo/jobs/new/", {"kind": "prechecks"})
    return response, Job.objects.filter(cloud=w.demo, requested_by=w.user).exists()


@case("api: launch", OPERATE, 201)
def launch_api(w):
    response = w.api.post("/api/jobs/", {"cloud": "demo", "kind": "prechecks"}, format="json")
    return response, Job.objects.filter(cloud=w.demo, requested_by=w.user).exists()


@case("api: plan preview", VIEW, 200)
def plan_api(w):
    return w.api.get("/api/clouds/demo/plan/", {"kind": "prechecks"}), None


# --- a job ------------------------------------------------------------------------------------------
@listing("page: job list")
def job_list_page(w):
    job = w.queued_job
    response = w.page.get("/jobs/")
    return response, f"/jobs/{job.pk}/" in response.content.decode()


@listing("page: running and waiting jobs")
def active_jobs_page(w):
    job = w.queued_job
    response = w.page.get("/jobs/active/")
    return response, f"/jobs/{job.pk}/" in response.content.decode()


@listing("api: job list")
def job_list_api(w):
    job = w.queued_job
    response = w.api.get("/api/jobs/")
    return response, job.pk in {j["id"] for j in response.json()["results"]}


@case("page: job detail", VIEW, 200)
def job_detail_page(w):
    return w.page.get(f"/jobs/{w.queued_job.pk}/"), None


@case("api: job detail", VIEW, 200)
def job_detail_api(w):
    return w.api.get(f"/api/jobs/{w.queued_job.pk}/"), None


@case("api: job events", VIEW, 200)
def job_events_api(w):
    return w.api.get(f"/api/jobs/{w.queued_job.pk}/events/"), None


@case("page: job log download", VIEW, 200)
def job_log_page(w):
    return w.page.get(f"/jobs/{w.queued_job.pk}/log.txt"), None


@case("page: cancel", OPERATE, 302)
def cancel_page(w):
    response = w.page.post(f"/jobs/{w.queued_job.pk}/cancel/")
    return response, w.job_state(w.queued_job) == JobState.CANCELED


@case("api: cancel", OPERATE, 202)
def cancel_api(w):
    response = w.api.post(f"/api/jobs/{w.queued_job.pk}/cancel/")
    return response, w.job_state(w.queued_job) == JobState.CANCELED


@case("page: resume", OPERATE, 302)
def resume_page(w):
    response = w.page.post(f"/jobs/{w.failed_job.pk}/resume/")
    return response, w.job_state(w.failed_job) == JobState.QUEUED


@case("api: resume", OPERATE, 202)
def resume_api(w):
    response = w.api.post(f"/api/jobs/{w.failed_job.pk}/resume/", {"confirm": True}, format="json")
    return response, w.job_state(w.failed_job) == JobState.QUEUED


@case("page: continue at a gate", OPERATE, 302)
def continue_page(w):
    response = w.page.post(f"/jobs/{w.waiting_job.pk}/continue/", {"reason": "the canary is healthy"})
    return response, w.job_state(w.waiting_job) == JobState.RUNNING


@case("api: continue at a gate", OPERATE, 202)
def continue_api(w):
    body = {"reason": "the canary is healthy"}
    response = w.api.post(f"/api/jobs/{w.waiting_job.pk}/continue/", body, format="json")
    return response, w.job_state(w.waiting_job) == JobState.RUNNING


# Where the cloud's policy asks an approver to pass gates, continuing needs both roles.
@case("api: continue at a gate that needs an approver", OPERATE & APPROVE, 202)
def continue_approved_gate_api(w):
    ApprovalPolicy.objects.create(
        cloud=w.demo, approvals_required=0, request_ttl_hours=72, gates_need_approver=True
    )
    body = {"reason": "the canary is healthy"}
    response = w.api.post(f"/api/jobs/{w.waiting_job.pk}/continue/", body, format="json")
    return response, w.job_state(w.waiting_job) == JobState.RUNNING


@case("page: abort at a gate", OPERATE, 302)
def abort_page(w):
    response = w.page.post(f"/jobs/{w.waiting_job.pk}/abort/", {"reason": "the canary broke"})
    return response, w.job_state(w.waiting_job) == JobState.CANCELED


@case("api: abort at a gate", OPERATE, 202)
def abort_api(w):
    body = {"reason": "the canary broke"}
    response = w.api.post(f"/api/jobs/{w.waiting_job.pk}/abort/", body, format="json")
    return response, w.job_state(w.waiting_job) == JobState.CANCELED


# --- approvals --------------------------------------------------------------------------------------
@case("page: approve", APPROVE, 302)
def approve_page(w):
    response = w.page.post(f"/approvals/jobs/{w.awaiting_job.pk}/approve/", {"reason": "plan read"})
    return response, Approval.objects.filter(job=w.awaiting_job, approver=w.user).exists()


@case("api: approve", APPROVE, 200)
def approve_api(w):
    response = w.api.post(f"/api/jobs/{w.awaiting_job.pk}/approve/", {"reason": "plan read"}, format="json")
    return response, Approval.objects.filter(job=w.awaiting_job, approver=w.user).exists()


@case("page: deny", APPROVE, 302)
def deny_page(w):
    response = w.page.post(f"/approvals/jobs/{w.awaiting_job.pk}/deny/", {"reason": "not this week"})
    return response, w.job_state(w.awaiting_job) == JobState.DENIED


@case("api: deny", APPROVE, 200)
def deny_api(w):
    body = {"reason": "not this week"}
    response = w.api.post(f"/api/jobs/{w.awaiting_job.pk}/deny/", body, format="json")
    return response, w.job_state(w.awaiting_job) == JobState.DENIED


@listing("page: approvals queue", APPROVE)
def approvals_queue_page(w):
    job = w.awaiting_job
    response = w.page.get("/approvals/")
    return response, f'data-job="{job.pk}"' in response.content.decode()


@listing("api: approvals queue", APPROVE)
def approvals_queue_api(w):
    job = w.awaiting_job
    response = w.api.get("/api/approvals/")
    return response, job.pk in {j["id"] for j in response.json()}


@case("api: approval policy", VIEW, 200)
def policy_api(w):
    return w.api.get("/api/clouds/demo/approval-policy/"), None


@case("api: approval policy change", ADMINISTER, 200)
def policy_change_api(w):
    response = w.api.put("/api/clouds/demo/approval-policy/", {"approvals_required": 2}, format="json")
    return response, ApprovalPolicy.objects.filter(cloud=w.demo, approvals_required=2).exists()


@case("page: approval policy change", ADMINISTER, 302)
def policy_change_page(w):
    body = {"approvals_required": "2", "request_ttl_hours": "24"}
    response = w.page.post("/approvals/clouds/demo/policy/", body)
    return response, ApprovalPolicy.objects.filter(cloud=w.demo, approvals_required=2).exists()


# --- the audit trail --------------------------------------------------------------------------------
@listing("page: audit trail")
def audit_page(w):
    assert w.probe_entry  # an entry to show
    response = w.page.get("/audit/")
    return response, "<code>test.matrix_probe</code>" in response.content.decode()


@listing("page: audit export")
def audit_export_page(w):
    entry = w.probe_entry
    response = w.page.get("/audit/export.json")
    return response, f'"id": {entry.pk},' in b"".join(response.streaming_content).decode()


@listing("api: audit trail")
def audit_api(w):
    entry = w.probe_entry
    response = w.api.get("/api/audit/")
    return response, entry.pk in {e["id"] for e in response.json()["results"]}


@case("api: audit entry", VIEW, 200)
def audit_entry_api(w):
    return w.api.get(f"/api/audit/{w.probe_entry.pk}/"), None


# --- backups and history ----------------------------------------------------------------------------
@listing("api: backups list")
def backups_api(w):
    backup = w.backup
    response = w.api.get("/api/backups/")
    return response, backup.pk in {b["id"] for b in response.json()["results"]}


@case("api: backup", VIEW, 200)
def backup_api(w):
    return w.api.get(f"/api/backups/{w.backup.pk}/"), None


@case("api: upgrade history", VIEW, 200)
def history_api(w):
    return w.api.get("/api/clouds/demo/history/"), None


# --- windows and freezes ----------------------------------------------------------------------------
WINDOW = {"weekdays": [5], "start_time": "01:00", "end_time": "05:00", "timezone": "Europe/Berlin"}
FREEZE = {"starts_at": "2026-12-20T00:00", "ends_at": "2027-01-02T00:00", "reason": "year-end"}


@case("api: windows", VIEW, 200)
def windows_api(w):
    assert w.window  # a window to list
    return w.api.get("/api/clouds/demo/windows/"), None


@case("api: window status", VIEW, 200)
def window_status_api(w):
    return w.api.get("/api/clouds/demo/windows/status/"), None


@case("api: window add", ADMINISTER, 201)
def window_add_api(w):
    response = w.api.post("/api/clouds/demo/windows/", WINDOW, format="json")
    return response, w.demo.maintenance_windows.filter(weekdays=[5]).exists()


@case("api: window remove", ADMINISTER, 204)
def window_remove_api(w):
    response = w.api.delete(f"/api/clouds/demo/windows/{w.window.pk}/")
    return response, not MaintenanceWindow.objects.filter(pk=w.window.pk).exists()


@case("page: window add", ADMINISTER, 302)
def window_add_page(w):
    body = {**WINDOW, "weekdays": ["5"]}
    response = w.page.post("/clouds/demo/windows/", body)
    return response, w.demo.maintenance_windows.filter(weekdays=[5]).exists()


@case("page: window remove", ADMINISTER, 302)
def window_remove_page(w):
    response = w.page.post(f"/clouds/demo/windows/{w.window.pk}/remove/")
    return response, not MaintenanceWindow.objects.filter(pk=w.window.pk).exists()


@case("api: freezes", VIEW, 200)
def freezes_api(w):
    assert w.freeze  # a freeze to list
    return w.api.get("/api/clouds/demo/freezes/"), None


@case("api: freeze add", ADMINISTER, 201)
def freeze_add_api(w):
    response = w.api.post("/api/clouds/demo/freezes/", FREEZE, format="json")
    return response, w.demo.change_freezes.filter(reason="year-end").exists()


@case("api: freeze lift", ADMINISTER, 204)
def freeze_lift_api(w):
    response = w.api.delete(f"/api/clouds/demo/freezes/{w.freeze.pk}/")
    return response, not ChangeFreeze.objects.filter(pk=w.freeze.pk).exists()


@case("page: freeze add", ADMINISTER, 302)
def freeze_add_page(w):
    response = w.page.post("/clouds/demo/freezes/", {**FREEZE, "timezone": "UTC"})
    return response, w.demo.change_freezes.filter(reason="year-end").exists()


@case("page: freeze lift", ADMINISTER, 302)
def freeze_lift_page(w):
    response = w.page.post(f"/clouds/demo/freezes/{w.freeze.pk}/remove/")
    return response, not ChangeFreeze.objects.filter(pk=w.freeze.pk).exists()


# --- notifications ----------------------------------------------------------------------------------
HOOK = "https://hooks.example.com/ferry"


@case("api: notification settings", VIEW, 200)
def notifications_api(w):
    return w.api.get("/api/clouds/demo/notifications/"), None


@case("api: notification settings change", ADMINISTER, 200)
def notifications_change_api(w):
    response = w.api.patch("/api/clouds/demo/notifications/", {"webhook_url": HOOK}, format="json")
    return response, NotificationSettings.objects.filter(cloud=w.demo, webhook_url=HOOK).exists()


@case("page: notification settings change", ADMINISTER, 302)
def notifications_change_page(w):
    response = w.page.post("/notifications/clouds/demo/", {"webhook_url": HOOK})
    return response, NotificationSettings.objects.filter(cloud=w.demo, webhook_url=HOOK).exists()


# --- the matrix -------------------------------------------------------------------------------------
@pytest.fixture
def people(demo_cloud, admin_user):
    """The global admin, one member of the demo cloud per role, and an outsider who administers
    another cloud only."""
    other = clouds.create_cloud(None, slug="other", release="2025.1", description="someone else's")
    users = {"global_admin": admin_user}
    for role in ("viewer", "operator", "approver", "admin"):
        users[role] = UserFactory(username=f"demo-{role}")
        CloudMembership.objects.create(cloud=demo_cloud, user=users[role], role=role)
    users["outsider"] = UserFactory(username="oscar-other-admin")
    CloudMembership.objects.create(cloud=other, user=users["outsider"], role="admin")
    return users


@pytest.fixture
def requester(demo_cloud):
    """Who asks for the jobs the cases act on: an operator of the demo cloud, none of the personas."""
    user = UserFactory(username="rita-requester")
    CloudMembership.objects.create(cloud=demo_cloud, user=user, role="operator")
    return user


@pytest.mark.parametrize("endpoint", CASES, ids=lambda c: c.name)
def test_each_endpoint_answers_each_persona_as_its_permission_says(
    endpoint, people, requester, demo_cloud, settings, no_worker
):
    # One cloud for the six personas, each acting inside a savepoint rolled back after it: what one
    # persona changed is gone before the next acts, and the cloud is imported once, not six times.
    wrong = []
    for persona in PERSONAS:
        with transaction.atomic():
            demo = Cloud.objects.get(pk=demo_cloud.pk)
            world = World(
                persona, type(people[persona]).objects.get(pk=people[persona].pk), demo, requester, settings
            )
            response, happened = endpoint.act(world)
            allowed = persona in endpoint.holders
            expected = (
                endpoint.allowed if allowed else endpoint.hidden if persona == "outsider" else endpoint.denied
            )
            if response.status_code != expected or (happened is not None and happened != allowed):
                body = getattr(response, "content", b"")[:300]
                wrong.append(
                    f"{persona}: {response.status_code} (expected {expected}), changed: {happened}; {body}"
                )
            transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)


def test_the_matrix_names_each_endpoint_once():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


SECRET = "Registry-Pa55-Matrix"


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_shows_a_clouds_secrets_to_whoever_edits_it_on_its_page(
    persona, people, demo_cloud, admin_user
):
    from apps.clouds import files

    Cloud.objects.filter(pk=demo_cloud.pk).update(
        globals_yml=demo_cloud.globals_yml + f"\ndocker_registry_password: {SECRET}\n"
    )
    host = demo_cloud.hosts.order_by("id").first()
    host.variables = {"ansible_become_password": SECRET}
    host.save(update_fields=["variables"])
    keyring = files.put_file(
        admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", f"key = {SECRET}\n".encode()
    )
    page, api = Client(), APIClient()
    page.force_login(people[persona])
    api.force_authenticate(people[persona])
    edits = persona in ADMINISTER
    shown = {
        "cloud": api.get("/api/clouds/demo/"),
        "host": api.get(f"/api/hosts/{host.pk}/"),
        "file": api.get(f"/api/clouds/demo/files/{keyring.pk}/"),
    }
    if persona == "outsider":
        assert {name: r.status_code for name, r in shown.items()} == dict.fromkeys(shown, 404)
        return
    assert {name: r.status_code for name, r in shown.items()} == dict.fromkeys(shown, 200)
    assert (SECRET in shown["cloud"].json()["globals_yml"]) == edits
    assert (shown["host"].json()["variables"]["ansible_become_password"] == SECRET) == edits
    assert (shown["file"].json()["content"] is not None) == edits
    assert shown["file"].json()["content_hidden"] == (not edits)
    edit_page = page.get("/clouds/demo/edit/")
    assert edit_page.status_code == (200 if edits else 403)
    assert (SECRET in edit_page.content.decode()) == edits
