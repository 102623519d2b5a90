"""The job queue pages: the dashboard's partial and the job list show the same unfinished jobs."""

import re

import pytest

from apps.jobs import services
from apps.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db


def _job_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/jobs/(\d+)/"', html)]


def test_queue_partial_and_job_list_show_unfinished_jobs_highest_priority_first(
    client_as, viewer, operator, demo_cloud, no_worker
):
    low = services.launch_job(operator, demo_cloud, "prechecks", priority=10, confirmed=True)
    high = services.launch_job(operator, demo_cloud, "check", priority=90, confirmed=True)
    done = services.launch_job(operator, demo_cloud, "prechecks", confirmed=True)
    Job.objects.filter(pk=done.pk).update(state=JobState.SUCCEEDED)
    client = client_as(viewer)

    assert _job_ids(client.get("/jobs/active/").content.decode()) == [high.pk, low.pk]
    page = client.get("/jobs/").content.decode()
    assert _job_ids(page) == [high.pk, low.pk, done.pk]  # the queue, then what finished


def test_resume_keeps_the_limit_each_step_ran_with(operator, demo_cloud, no_worker):
    job = services.launch_job(operator, demo_cloud, "reconfigure", limit="cell1", confirmed=True)
    first = list(job.steps.order_by("position"))
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    job.refresh_from_db()
    services.resume_job(operator, job, confirmed=True)
    again = list(job.steps.filter(attempt=2).order_by("position"))
    assert [s.limit for s in again] == [s.limit for s in first]
    assert all("cell1" in s.limit for s in again)
