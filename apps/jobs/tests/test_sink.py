"""The database end of the pipeline: idempotent batches, host totals, publish after commit."""

import pytest
from django.db import IntegrityError, connection

from apps.jobs.models import Event, HostSummary, Job
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events
from runner.events import EventBatcher

pytestmark = pytest.mark.django_db


def test_redelivered_batches_are_stored_once(demo_cloud):
    job = make_job(demo_cloud)
    step = job.steps.get(position=1)
    sink = JobEventSink(job, step)
    sink(runner_events(1, 50))
    with pytest.raises(IntegrityError):  # an overlap nobody announced: refused whole by the index
        sink(runner_events(40, 80))
    sink(runner_events(40, 80))  # offered again after the failure, as the batcher does: checked
    assert list(Event.objects.filter(job=job).values_list("counter", flat=True)) == list(range(1, 81))
    assert Job.objects.get(pk=job.pk).event_count == 80


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_failed_after_its_commit_is_stored_once(demo_cloud):
    """The commit went through, then the sink raised: the batcher offers the batch again."""

    class FailsAfterCommit(JobEventSink):
        published = 0

        def _publish(self, new, host_rows):
            self.published += 1
            if self.published in (2, 4):
                raise ConnectionError("lost after commit")
            super()._publish(new, host_rows)

    job = make_job(demo_cloud)
    sink = FailsAfterCommit(job, job.steps.get(position=1))
    batcher = EventBatcher(
        sink,
        max_batch=7,
        max_delay=0.001,
        retry_initial=0.001,
        on_thread_exit=lambda: connection.close(),  # the delivery thread's own connection, as execution.py
    ).start()
    for event in runner_events(1, 100, host="ctl01"):
        batcher.add(event)
    batcher.close(30)
    assert batcher.failures == 2
    assert list(Event.objects.filter(job=job).values_list("counter", flat=True)) == list(range(1, 101))
    job.refresh_from_db()
    assert job.event_count == 100
    assert HostSummary.objects.get(job=job, host="ctl01").ok == 100


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
    with pytest.raises(IntegrityError):
        sink(runner_events(3, 6, host="ctl01"))
    sink(runner_events(3, 6, host="ctl01"))  # 3 and 4 again, after a failure: not counted twice
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


def test_one_batch_moves_step_job_and_host_totals_together(demo_cloud):
    job = make_job(demo_cloud)
    step = job.steps.get(position=1)
    sink = JobEventSink(job, step)
    sink(runner_events(1, 3, host="ctl01", changed=True))
    no_results = runner_events(4, 5, event="playbook_on_task_start")
    for event in no_results:
        event["event_data"].pop("task")  # a batch without a task name keeps the current task
    sink(no_results)
    job.refresh_from_db()
    step.refresh_from_db()
    assert (job.event_count, step.event_count, job.current_task) == (5, 5, "task 3")
    assert HostSummary.objects.get(job=job, host="ctl01").changed == 3


def test_each_batch_is_published_once_with_its_host_totals(
    demo_cloud, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.jobs import sink as sink_module

    sent = []
    monkeypatch.setattr(sink_module, "publish", lambda job_id, message: sent.append(message))
    job = make_job(demo_cloud)
    sink = JobEventSink(job, job.steps.get(position=1))
    with django_capture_on_commit_callbacks(execute=True):
        sink(runner_events(1, 2, host="ctl01"))
        sink(runner_events(3, 3, event="playbook_on_task_start"))
    assert [(m["kind"], [e["counter"] for e in m["events"]], m.get("hosts")) for m in sent] == [
        (
            "events",
            [1, 2],
            [{"host": "ctl01", "ok": 2, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}],
        ),
        ("events", [3], None),
    ]
