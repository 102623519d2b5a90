import pytest


@pytest.fixture
def no_worker(monkeypatch):
    """Record tasks that would be sent to a worker instead of sending them (unit tests only)."""
    sent = []
    from apps.jobs import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: sent.append(("run", job_id)))
    monkeypatch.setattr(tasks.dispatch_jobs, "delay", lambda: sent.append(("dispatch", None)))
    return sent
