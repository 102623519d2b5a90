"""Jobs run for real: the lab backend, real ansible-playbook, events stored and redacted, history kept.

These call the worker's code synchronously in the test process; the same code
in a separate Celery worker process is driven by tests/e2e/test_jobs_production.py.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from apps.catalog.models import Release
from apps.clouds.models import ReleaseChange
from apps.jobs import services
from apps.jobs.execution import execute_job
from apps.jobs.models import Event, HostSummary, Job, JobState
from runner import lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ansible]


def run(job: Job) -> Job:
    started = services.dispatch()
    assert job.pk in started
    execute_job(job.pk, worker="test-worker")
    job.refresh_from_db()
    return job


def assert_every_event_once(job: Job) -> None:
    """Each step of ``job`` stored its events numbered 1, 2, … without a gap or a repeat."""
    for step in job.steps.all():
        counters = list(Event.objects.filter(step=step).order_by("counter").values_list("counter", flat=True))
        assert counters == list(range(1, len(counters) + 1)), f"gap or duplicate in {step.name}"
        assert step.event_count == len(counters)
    assert job.event_count == Event.objects.filter(job=job).count()


def stored_output(job: Job) -> str:
    """Everything ``job``'s events stored: their output and their data."""
    return "".join(e.stdout + json.dumps(e.event_data) for e in Event.objects.filter(job=job))


def test_failed_step_then_resume_from_it_keeps_the_first_attempt_records_history_and_hides_passwords(
    lab_cloud, operator, no_worker
):
    root = settings.VAR_DIR / "lab" / "small"
    lab.prepare_lab(root, ["ctl01", "cmp01", "cmp02"])
    lab.set_health(root, "cmp02", "degraded", "disk full")
    job = run(
        services.launch_job(operator, lab_cloud, "deploy", params={"release": "2025.1"}, confirmed=True)
    )
    assert job.state == JobState.FAILED
    assert "Step 2 (Prechecks) failed" in job.result
    assert HostSummary.objects.get(job=job, host="cmp02").failed >= 1

    lab.set_health(root, "cmp02", "healthy")
    services.resume_job(operator, job, confirmed=True)
    job = run(job)
    assert job.state == JobState.SUCCEEDED, job.result
    assert list(job.steps.order_by("ordinal").values_list("attempt", "name", "state")) == [
        (1, "Bootstrap servers", "succeeded"),
        (1, "Prechecks", "failed"),
        (1, "Pull images", "skipped"),
        (1, "Deploy", "skipped"),
        (1, "Post-deploy", "skipped"),
        (1, "Check services", "skipped"),
        (2, "Prechecks", "succeeded"),
        (2, "Pull images", "succeeded"),
        (2, "Deploy", "succeeded"),
        (2, "Post-deploy", "succeeded"),
        (2, "Check services", "succeeded"),
    ]
    assert Event.objects.filter(job=job, step__attempt=1).exists()  # the first attempt's output stays
    lab_cloud.refresh_from_db()
    assert lab_cloud.release.series == "2025.1" and lab_cloud.state == "deployed"
    history = list(
        ReleaseChange.objects.filter(cloud=lab_cloud)
        .order_by("id")
        .values_list("from_release__series", "to_release__series")
    )
    assert history == [(None, "2025.1")]
    assert lab.read_host_state(root, "cmp01")["release"] == "2025.1"
    assert_every_event_once(job)
    assert set(HostSummary.objects.filter(job=job).values_list("host", flat=True)) >= {
        "ctl01",
        "cmp01",
        "cmp02",
    }
    # The cloud's passwords reach Ansible but never the stored (or streamed) output. Upgrades are
    # played the same way and checked on a two-cell fast-forward upgrade (test_ffu_cells.py).
    stored = stored_output(job)
    assert "Pa55-Never-Shown" not in stored
    assert "********" in stored  # the lab did print them: they were masked, not absent


def test_steps_keep_ansible_runner_files_in_the_scratch_dir_and_leave_nothing(
    lab_cloud, operator, no_worker, tmp_path, settings, monkeypatch
):
    from apps.jobs import execution

    settings.FERRY_SCRATCH_DIR = tmp_path / "scratch"
    seen: list[list[str]] = []
    real_run_step = execution.run_step

    def watching_run_step(spec, *, should_cancel, **kwargs):
        def poll():
            if not seen:  # the step is running: where are its files (its passwords among them)?
                seen.append(sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("extravars")))
            return should_cancel()

        return real_run_step(spec, should_cancel=poll, **kwargs)

    monkeypatch.setattr(execution, "run_step", watching_run_step)
    lab_cloud.release = Release.objects.get(series="2025.1")
    lab_cloud.save()
    job = run(
        services.launch_job(operator, lab_cloud, "prechecks", confirmed=True)
    )  # fails on a lab never deployed
    assert job.steps.get().rc is not None  # ansible-playbook ran
    (files,) = seen
    assert len(files) == 1 and files[0].startswith(f"scratch/job-{job.pk}/step-"), files
    assert list((tmp_path / "scratch").iterdir()) == []
