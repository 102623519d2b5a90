"""A worker's database connection cut mid-job (pg_terminate_backend): reopened, nothing lost."""

import psycopg
import pytest
from django.db import OperationalError, connection

from apps.jobs.models import Event, Job
from apps.jobs.reconnect import retrying
from apps.jobs.sink import JobEventSink
from apps.jobs.tests.factories import make_job, runner_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cut_connection():
    """Terminate this thread's database connection from another one, as a restart or failover does."""
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL connection")

    def cut() -> None:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    return cut


def test_a_write_after_the_connection_was_cut_is_recorded(demo_cloud, cut_connection):
    job = make_job(demo_cloud)
    cut_connection()
    retrying(Job.objects.filter(pk=job.pk).update, result="recorded")
    assert Job.objects.get(pk=job.pk).result == "recorded"


def test_events_offered_again_after_the_connection_was_cut_are_stored_once(demo_cloud, cut_connection):
    job = make_job(demo_cloud)
    step = job.steps.first()
    sink = JobEventSink(job, step)
    events = runner_events(1, 6)
    sink(events[:3])
    cut_connection()
    with pytest.raises(OperationalError):
        sink(events[3:])
    sink(events[3:])  # the batcher offers the same batch again
    assert list(Event.objects.filter(job=job).order_by("seq").values_list("counter", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
