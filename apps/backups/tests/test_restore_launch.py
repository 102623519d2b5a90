"""Restore by id through the API and the launch form: only a verified backup of this cloud, whole chain.

The planner's refusals are in runner/tests/test_planner.py; these are the same refusals where an
operator meets them, a 400 naming ``backup`` with nothing created, and the select the form offers.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEntry
from apps.backups import services
from apps.backups.models import Backup, BackupKind, BackupState
from apps.clouds.services import create_cloud
from apps.jobs.models import Job, JobState, Step
from apps.jobs.tests.factories import make_job

pytestmark = pytest.mark.django_db
TAKEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def taken(cloud, name: str, *, kind: str = "full", data: bytes | None = None, copied: bool = True, **meta):
    """A backup of ``cloud`` recorded as a fetch step records it: verified when Ferry's copy matches the
    checksum the node recorded, failed when not (``sha256=`` another), missing when no copy arrived."""
    job = make_job(cloud, state=JobState.SUCCEEDED)
    step = job.steps.first()
    incoming = services.incoming_dir(cloud, job.pk, step.ordinal)
    incoming.mkdir(parents=True)
    data = name.encode() if data is None else data
    if copied:
        (incoming / "data").write_bytes(data)
    minutes = Backup.objects.filter(cloud=cloud).count()
    (incoming / "meta.json").write_text(
        json.dumps(
            {
                "name": name,
                "type": kind,
                "sha256": hashlib.sha256(data).hexdigest(),
                "created": (TAKEN + timedelta(minutes=minutes)).isoformat(),
                "node": "ctl01",
                **meta,
            }
        )
    )
    return services.record_fetched_backup(None, cloud, job=job, step=step, label=name)


def restore(api, backup_id, cloud: str = "demo"):
    return api.post(
        "/api/jobs/",
        {"cloud": cloud, "kind": "restore", "params": {"backup": backup_id}, "confirm": True},
        format="json",
    )


def created() -> tuple[int, int, int]:
    """What a launch creates: jobs, steps and its audit entry."""
    return Job.objects.count(), Step.objects.count(), AuditEntry.objects.filter(action="job.launch").count()


def assert_refused_naming_backup(response, why: str, before: tuple[int, int, int]) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == ["backup"], body
    assert why in " ".join(body["backup"]), body
    assert created() == before
    assert not Job.objects.filter(kind="restore").exists()


def test_a_verified_full_backup_of_this_cloud_is_restored_by_id(
    api_as, operator, demo_cloud, backup_store, no_worker
):
    """The refusals below refuse for their reason, not because the API refuses every restore."""
    backup = taken(demo_cloud, "nightly")
    assert backup.state == BackupState.VERIFIED
    response = restore(api_as(operator), backup.pk)
    assert response.status_code == 201, response.content
    job = Job.objects.get(kind="restore")
    assert job.params == {"backup": backup.pk}
    assert f"Put backup #{backup.pk} (full, 2026-12-01 10:00 UTC) on ctl01" in job.steps.values_list(
        "name", flat=True
    )


@pytest.mark.parametrize(
    ("how", "state"),
    [({"sha256": "0" * 64}, BackupState.FAILED), ({"copied": False}, BackupState.MISSING)],
)
def test_a_backup_that_is_not_verified_is_a_400_naming_backup(
    api_as, operator, demo_cloud, backup_store, no_worker, how, state
):
    backup = taken(demo_cloud, f"nightly-{state}", **how)
    assert backup.state == state
    before = created()
    response = restore(api_as(operator), backup.pk)
    assert_refused_naming_backup(response, f"backup #{backup.pk} is {state}, not verified", before)


def test_an_incremental_whose_full_parent_is_no_longer_verified_is_a_400_naming_backup(
    api_as, operator, demo_cloud, backup_store, no_worker
):
    full = taken(demo_cloud, "full")
    increment = taken(demo_cloud, "incr", kind=BackupKind.INCREMENTAL)
    assert increment.state == BackupState.VERIFIED and increment.parent_id == full.pk
    # Found damaged since (a check of Ferry's copy, or the copy lost): the increment has nothing to apply to.
    Backup.objects.filter(pk=full.pk).update(state=BackupState.FAILED)
    before = created()
    response = restore(api_as(operator), increment.pk)
    assert_refused_naming_backup(
        response, f"incremental backup #{increment.pk} has no verified full backup to apply it to", before
    )


def test_an_incremental_without_a_full_parent_is_a_400_naming_backup(
    api_as, operator, demo_cloud, backup_store, no_worker
):
    full = taken(demo_cloud, "full")
    increment = taken(demo_cloud, "incr", kind=BackupKind.INCREMENTAL)
    # Its parent pruned or deleted by hand: Backup.parent is PROTECT, so only a lost link can do this.
    Backup.objects.filter(pk=increment.pk).update(parent=None)
    assert Backup.objects.filter(pk=full.pk).exists()
    before = created()
    response = restore(api_as(operator), increment.pk)
    assert_refused_naming_backup(response, "has no verified full backup to apply it to", before)


def test_an_incremental_after_a_failed_increment_is_a_400_naming_the_broken_link(
    api_as, operator, demo_cloud, backup_store, no_worker
):
    taken(demo_cloud, "full")
    first = taken(demo_cloud, "incr-1", kind=BackupKind.INCREMENTAL)
    second = taken(demo_cloud, "incr-2", kind=BackupKind.INCREMENTAL)
    assert second.state == BackupState.VERIFIED and second.parent_id == first.parent_id
    Backup.objects.filter(pk=first.pk).update(state=BackupState.MISSING)
    before = created()
    response = restore(api_as(operator), second.pk)
    assert_refused_naming_backup(
        response, f"incremental backup #{second.pk} needs backup #{first.pk}, which is missing", before
    )


def test_an_unknown_backup_id_is_a_400_naming_backup(api_as, operator, demo_cloud, backup_store, no_worker):
    taken(demo_cloud, "nightly")
    before = created()
    response = restore(api_as(operator), 9999)
    assert_refused_naming_backup(response, "there is no backup #9999 of this cloud", before)


def test_another_clouds_verified_backup_is_a_400_naming_backup_and_restores_only_there(
    api_as, operator, demo_cloud, backup_store, no_worker
):
    other = create_cloud(None, slug="other", release="2025.1", globals_yml='enable_mariabackup: "yes"\n')
    theirs = taken(other, "theirs")
    taken(demo_cloud, "ours")
    assert theirs.state == BackupState.VERIFIED and theirs.cloud == other
    api = api_as(operator)
    before = created()
    response = restore(api, theirs.pk)
    assert_refused_naming_backup(response, f"there is no backup #{theirs.pk} of this cloud", before)
    # The same id restores on the cloud it belongs to: the refusal is about whose backup it is.
    response = restore(api, theirs.pk, cloud="other")
    assert response.status_code == 201, response.content
    assert Job.objects.get(kind="restore").cloud == other


def option_text(page: str, value: int) -> str | None:
    """The text of the select's option for ``value``, as a person reads it."""
    found = re.search(rf'<option value="{value}"[^>]*>(.*?)</option>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def test_the_launch_form_offers_each_verified_backup_with_label_release_time_and_size(
    client_as, operator, demo_cloud, backup_store
):
    verified = taken(demo_cloud, "before-maintenance", data=b"x" * 2048)
    failed = taken(demo_cloud, "torn-copy", sha256="0" * 64)
    missing = taken(demo_cloud, "never-arrived", copied=False)
    assert (verified.state, failed.state, missing.state) == ("verified", "failed", "missing")

    page = client_as(operator).get("/clouds/demo/jobs/new/?kind=restore").content.decode()

    text = option_text(page, verified.pk)
    assert text is not None, page
    assert text.startswith(f"#{verified.pk} full before-maintenance · ")
    assert "· 2025.1 ·" in text
    assert "· 2026-12-01 10:00 UTC ·" in text
    assert text.endswith("· 2.0\xa0KB")
    assert option_text(page, failed.pk) is None and option_text(page, missing.pk) is None
    assert "torn-copy" not in page and "never-arrived" not in page
