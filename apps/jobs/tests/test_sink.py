"""The database end of the pipeline: idempotent batches, host totals, publish after commit."""

import pytest

from apps.jobs.models import Event, HostSummary, Job
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events

pytestmark = pytest.mark.django_db


def test_redelivered_batches_are_stored_once(demo_cloud):
    job = make_job(demo_cloud)
    step = job.steps.get(position=1)
    sink = JobEventSink(job, step)
    sink(runner_events(1, 50))
    sink(runner_events(40, 80))  # a retry that overlaps what was stored
    sink(runner_events(1, 80))
    assert list(Event.objects.filter(job=job).values_list("counter", flat=True)) == list(range(1, 81))
    assert Job.objects.get(pk=job.pk).event_count == 80


def test_seq_orders_events_across_steps(demo_cloud):
    job = make_job(demo_cloud)
    first, second = job.steps.order_by("position")
    JobEventSink(job, second)(runner_events(1, 3))
    JobEventSink(job, first)(runner_events(1, 3))
    seqs = list(Event.objects.filter(job=job).order_by("seq").values_list("step__position", "counter"))
    assert seqs == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


def test_host_totals_count_each_event_once(demo_cloud):
    job = make_job(demo_cloud)
    sink = JobEventSink(job, job.steps.get(position=1))
    sink(runner_events(1, 4, host="ctl01", changed=True))
    sink(runner_events(3, 6, host="ctl01"))  # 3 and 4 again: not counted twice
    sink(runner_events(7, 7, host="c1cmp01", event="runner_on_failed"))
    sink(runner_events(8, 8, host="c1cmp02", event="runner_on_unreachable"))
    totals = {h.host: (h.ok, h.changed, h.failed, h.unreachable) for h in HostSummary.objects.filter(job=job)}
    assert totals == {"ctl01": (6, 4, 0, 0), "c1cmp01": (0, 0, 1, 0), "c1cmp02": (0, 0, 0, 1)}


def test_current_task_follows_the_last_event(demo_cloud):
    job = make_job(demo_cloud)
    JobEventSink(job, job.steps.get(position=1))(runner_events(1, 5))
    assert Job.objects.get(pk=job.pk).current_task == "task 5"


def test_nul_characters_are_stored_replaced_not_refused(demo_cloud):
    """PostgreSQL text and json cannot hold NUL: a task that prints one must not wedge the pipeline."""
    job = make_job(demo_cloud)
    events = runner_events(1, 2, stdout="before\x00after")
    events[1]["event_data"]["res"] = {"stdout": "a\x00b"}
    JobEventSink(job, job.steps.get(position=1))(events)
    first, second = Event.objects.filter(job=job).order_by("seq")
    assert first.stdout == "before\ufffdafter"
    assert second.event_data["res"]["stdout"] == "a\ufffdb"


def test_event_data_reads_back_as_written(demo_cloud):
    job = make_job(demo_cloud)
    events = runner_events(1, 1)
    events[0]["event_data"]["res"] = {"changed": True, "results": [{"item": "nova", "rc": 0}], "msg": None}
    JobEventSink(job, job.steps.get(position=1))(events)
    assert Event.objects.get(job=job).event_data == events[0]["event_data"]
