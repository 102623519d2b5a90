"""An upgrade whose target adds passwords merges them into the cloud's stored passwords as its own
step, and every step after it runs with them.

The runner is replaced by one that keeps what each step would hand Ansible, so these run no Ansible
(test_execution.py runs the same hop on the lab for real).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.catalog.models import Release
from apps.clouds.models import Cloud
from apps.clouds.services import cloud_passwords, update_cloud
from apps.jobs import execution, services
from apps.jobs.models import Event, Job, JobState
from runner.execute import StepResult
from runner.hops import HOPS
from runner.planner import MERGE_PASSWORDS

# Committed: the worker's heartbeat thread has its own connection and must see the job.
pytestmark = pytest.mark.django_db(transaction=True)
# What the hop adds, in the order the hop table lists them.
NEW = HOPS[("2024.1", "2025.1")].new_passwords


@pytest.fixture
def handed(monkeypatch, settings, tmp_path, backup_store):
    """Every step succeeds without Ansible; the list gets (step name, its StepSpec) in order."""
    settings.VAR_DIR = tmp_path
    settings.FERRY_SCRATCH_DIR = tmp_path / "scratch"
    specs: list = []

    def run_step(spec, **_):
        specs.append(spec)
        now = timezone.now()
        return StepResult(status="successful", rc=0, started=now, finished=now, stats={})

    monkeypatch.setattr(execution, "run_step", run_step)
    return specs


@pytest.fixture
def on_2024_1(demo_cloud):
    Cloud.objects.filter(pk=demo_cloud.pk).update(release=Release.objects.get(series="2024.1"))
    demo_cloud.refresh_from_db()
    return demo_cloud


def passwords(cloud: Cloud) -> dict:
    cloud.refresh_from_db()
    return cloud_passwords(cloud)


def upgrade(operator, cloud) -> Job:
    job = services.launch_job(operator, cloud, "upgrade", params={"target_release": "2025.1"}, confirmed=True)
    assert job.pk in services.dispatch()
    execution.execute_job(job.pk, worker="w1")
    job.refresh_from_db()
    return job


def test_the_merge_step_stores_the_new_passwords_and_the_steps_after_it_use_them(
    operator, on_2024_1, no_worker, handed
):
    before = passwords(on_2024_1)

    job = upgrade(operator, on_2024_1)

    assert job.state == JobState.SUCCEEDED, job.result
    stored = passwords(on_2024_1)
    assert {k: stored[k] for k in before} == before
    assert all(len(stored[key]) == 40 for key in NEW)
    merge = job.steps.get(action=MERGE_PASSWORDS)
    assert merge.state == "succeeded" and merge.playbook == ""
    # The runner ran every step but the merge: the validation before it, the rest after.
    assert len(handed) == job.steps.count() - 1
    validate, pull, *rest = handed
    assert not set(NEW) & set(validate.extra_vars)
    for spec in (pull, *rest):
        assert {key: spec.extra_vars[key] for key in NEW} == {key: stored[key] for key in NEW}
        assert {stored[key] for key in NEW} <= set(spec.secrets)  # hidden from their output
    (said,) = Event.objects.filter(step=merge).values_list("stdout", flat=True)
    assert said.startswith(f"Generated {', '.join(NEW)}")
    entry = AuditEntry.objects.get(action="cloud.merge_passwords")
    assert entry.detail == {"generated": list(NEW), "job": job.pk} and entry.actor == operator


def test_a_cloud_that_holds_the_new_passwords_keeps_them(operator, on_2024_1, no_worker, handed):
    held = {key: f"Held-{key}" for key in NEW}
    text = "".join(f"{k}: {v}\n" for k, v in {**passwords(on_2024_1), **held}.items())
    update_cloud(operator, on_2024_1, passwords_yml=text)

    job = upgrade(operator, on_2024_1)

    assert job.state == JobState.SUCCEEDED, job.result
    assert {key: passwords(on_2024_1)[key] for key in NEW} == held
    (said,) = Event.objects.filter(step__action=MERGE_PASSWORDS).values_list("stdout", flat=True)
    assert "nothing changed" in said
    assert not AuditEntry.objects.filter(action="cloud.merge_passwords").exists()


def test_a_hop_adding_a_key_ferry_cannot_generate_stops_at_the_merge(
    operator, on_2024_1, no_worker, handed, monkeypatch
):
    hop = HOPS[("2024.1", "2025.1")]
    monkeypatch.setitem(HOPS, ("2024.1", "2025.1"), replace(hop, new_passwords=(*NEW, "valkey_ssh_key")))
    on_2024_1.refresh_from_db()
    token = on_2024_1.passwords_encrypted

    job = upgrade(operator, on_2024_1)

    assert job.state == JobState.FAILED
    assert "valkey_ssh_key" in job.result and "SSH key pair" in job.result
    merge = job.steps.get(action=MERGE_PASSWORDS)
    assert merge.state == "failed"
    assert set(job.steps.filter(position__gt=merge.position).values_list("state", flat=True)) == {"skipped"}
    assert len(handed) == 1  # only the validation before it ran
    on_2024_1.refresh_from_db()
    assert on_2024_1.passwords_encrypted == token
