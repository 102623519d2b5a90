"""The job page's findings: what a validation (or any failed task) found, on which host, without the log.

The events are stored through the sink, shaped as a lab validate run stores them (event, event_data
and result keys as a real run of runner/lab/ferry-validate.yml with lab_fail and lab_unreachable
stored them): ``ignore_errors`` sits beside the result, True or None; warnings are ``ferry_warnings``
of an ok result.
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import pytest

from apps.jobs.findings import job_findings
from apps.jobs.models import Event, Job, JobState, Step
from apps.jobs.sink import JobEventSink
from runner.planner import VALIDATE

pytestmark = pytest.mark.django_db

VALIDATE_STEP = (
    "Validate the cloud for 2025.1: nova-status upgrade check, soft-deleted rows, Galera, RabbitMQ, "
    "disk, certificates, compute versions"
)
PLAYBOOK = "/srv/ferry/runner/lab/ferry-validate.yml"
DISK_FINDING = "ferry-validate of disk failed on cmp01 (failure injected by lab_fail)"
SUMMARY = f"1 finding(s) on cmp01: {DISK_FINDING}"
UNREACHABLE = "Task failed: Failed to connect to the host: cmp02: No route to host"
CERT_WARNING = "certificate haproxy-internal.pem on ctl01 expires on 2026-12-14 (9 days)"


def runner_event(
    counter: int,
    event: str,
    host: str,
    task: str,
    res: dict | None = None,
    *,
    ignore_errors: bool | None = None,
    play: str = "Validate the cloud before a maintenance",
    action: str = "lab_validate",
    stdout: str = "",
) -> dict:
    """An ansible-runner event as the runner hands it to the sink, with the keys a real run has."""
    data = {
        "playbook": PLAYBOOK,
        "playbook_uuid": "bad63808-db85-4d9e-a54b-7358e76b880d",
        "play": play,
        "play_uuid": "02fc0000-0001-cf2d-a052-00000000000d",
        "play_pattern": "all",
        "task": task,
        "task_uuid": f"02fc0000-0001-cf2d-a052-{counter:012d}",
        "task_action": action,
        "resolved_action": action,
        "task_args": "",
        "task_path": f"{PLAYBOOK}:{counter}",
        "host": host,
        "remote_addr": host,
        "start": "2026-12-04T16:27:49.743319+00:00",
        "end": "2026-12-04T16:27:49.835811+00:00",
        "duration": 0.092492,
        "uuid": str(uuid.uuid4()),
    }
    if res is not None:
        data["res"] = {**res, "_ansible_no_log": False}
    if event != "runner_on_unreachable":
        data["event_loop"] = None
    if event == "runner_on_failed":
        data["ignore_errors"] = ignore_errors
    return {
        "uuid": data["uuid"],
        "counter": counter,
        "stdout": stdout,
        "start_line": counter,
        "end_line": counter + 1,
        "runner_ident": "ferry",
        "event": event,
        "pid": 4242,
        "created": "2026-12-04T16:27:49.840000",
        "parent_uuid": data["task_uuid"],
        "event_data": data,
    }


def failed(counter: int, host: str, task: str, msg: str, *, ignored: bool, **kwargs) -> dict:
    res = {"changed": False, "msg": msg, "exception": "(traceback unavailable)"}
    stdout = f'fatal: [{host}]: FAILED! => {{"changed": false, "msg": "{msg}"}}'
    if ignored:
        stdout += "\n...ignoring"
    return runner_event(
        counter,
        "runner_on_failed",
        host,
        task,
        res,
        ignore_errors=True if ignored else None,
        stdout=stdout,
        **kwargs,
    )


def ok(counter: int, host: str, task: str, msg: str, **extra) -> dict:
    return runner_event(counter, "runner_on_ok", host, task, {"changed": False, "msg": msg, **extra})


def validate_run(first_host_message: str = DISK_FINDING) -> list[dict]:
    """A lab validate with a check failing on cmp01, cmp02 unreachable and a certificate on ctl01
    expiring in 9 days, as its events come from the runner (starts and skips left out)."""
    return [
        runner_event(1, "playbook_on_start", "", ""),
        runner_event(
            9,
            "runner_on_unreachable",
            "cmp02",
            "Gathering facts",
            {
                "unreachable": True,
                "exception": "(traceback unavailable)",
                "msg": UNREACHABLE,
                "changed": False,
            },
            play="Gather facts for all hosts",
            action="lab_host",
            stdout=f"fatal: [cmp02]: UNREACHABLE! => {UNREACHABLE}",
        ),
        ok(44, "ctl01", "Running nova-status upgrade check in the 2025.1 nova image", "Cells v2: Success"),
        ok(64, "ctl01", "Checking free disk for container images", "ctl01: 200 GB free for container images"),
        failed(65, "cmp01", "Checking free disk for container images", first_host_message, ignored=True),
        ok(
            69,
            "ctl01",
            "Checking certificate expiry",
            CERT_WARNING,
            ferry_warnings=[CERT_WARNING],
            warnings=[CERT_WARNING],
        ),
        ok(70, "cmp01", "Checking certificate expiry", "cmp01: 0 certificates, none expiring within 30 days"),
        failed(
            80,
            "cmp01",
            "Failing on the findings above",
            f"1 finding(s) on cmp01: {first_host_message}",
            ignored=False,
            action="ansible.builtin.fail",
        ),
        runner_event(81, "playbook_on_stats", "", ""),
    ]


def validate_job(cloud, *, attempts: int = 1) -> tuple[Job, list[Step]]:
    """A failed validate job with one validate step per attempt; ``job.attempt`` is the last."""
    job = Job.objects.create(
        cloud=cloud, kind="validate", mutating=False, state=JobState.FAILED, attempt=attempts
    )
    steps = [
        Step.objects.create(
            job=job,
            ordinal=attempt,
            position=1,
            attempt=attempt,
            name=VALIDATE_STEP,
            action=VALIDATE,
            playbook="ferry-validate.yml",
            state="failed",
        )
        for attempt in range(1, attempts + 1)
    ]
    return job, steps


class FindingRows(HTMLParser):
    """The rows of the page's findings table: their attributes and the text of their cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = 0
        self.rows: list[dict] = []
        self._in = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id") == "findings":
            self.sections += 1
            self._in = True
        elif self._in and tag == "tr" and "data-severity" in a:
            self.rows.append({"severity": a["data-severity"], "ignored": "data-ignored" in a, "cells": []})
        elif self._in and tag == "td" and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._in = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def findings_on_page(client, job: Job) -> FindingRows:
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    parsed = FindingRows()
    parsed.feed(response.content.decode())
    return parsed


def test_the_job_page_lists_what_the_validation_found_on_each_host(client_as, viewer, demo_cloud):
    job, (earlier, current) = validate_job(demo_cloud, attempts=2)
    JobEventSink(job, earlier)(validate_run("Galera on ctl02: wsrep_local_state_comment is Donor/Desynced"))
    JobEventSink(job, current)(validate_run())

    page = findings_on_page(client_as(viewer), job)

    assert page.sections == 1
    rows = [(r["severity"], r["ignored"], r["cells"][1:]) for r in page.rows]
    # Each finding once: the check that failed, not also the summary that repeats it and fails
    # the step on it; so the check is no failure the job went past.
    assert rows == [
        ("unreachable", False, [VALIDATE_STEP, "cmp02", "Gathering facts", UNREACHABLE]),
        ("failed", False, [VALIDATE_STEP, "cmp01", "Checking free disk for container images", DISK_FINDING]),
        ("warning", False, [VALIDATE_STEP, "ctl01", "Checking certificate expiry", CERT_WARNING]),
    ]
    assert not any("ignored" in r["cells"][0] for r in page.rows)
    assert page.rows[2]["cells"][0] == "warning"
    # The first attempt's finding was fixed before the resume: it is not listed.
    assert not any("Galera" in r["cells"][4] for r in page.rows)


def test_a_job_that_found_nothing_has_no_findings_section(client_as, viewer, demo_cloud):
    job, (step,) = validate_job(demo_cloud)
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    JobEventSink(job, step)(
        [e for e in validate_run() if e["event"] not in ("runner_on_failed", "runner_on_unreachable")][:3]
    )
    assert Event.objects.filter(job=job).count() == 3

    page = findings_on_page(client_as(viewer), job)

    assert page.sections == 0 and page.rows == []


def test_a_message_holding_html_is_shown_as_text(client_as, viewer, demo_cloud):
    job, (step,) = validate_job(demo_cloud)
    JobEventSink(job, step)(validate_run('disk <img src=x onerror="alert(1)"> on cmp01'))

    client = client_as(viewer)
    html = client.get(f"/jobs/{job.pk}/").content.decode()

    assert "<img src=x" not in html
    assert "disk &lt;img src=x onerror=&quot;alert(1)&quot;&gt; on cmp01" in html
    messages = [r["cells"][4] for r in findings_on_page(client, job).rows]
    assert 'disk <img src=x onerror="alert(1)"> on cmp01' in messages


def test_any_failed_task_is_a_finding_with_what_its_command_printed(demo_cloud):
    """A kolla-ansible step: a command that only says "non-zero return code" is shown by its stderr,
    a loop by its failed items, and the validation's warnings set as a fact are warnings too."""
    job, (validate,) = validate_job(demo_cloud)
    deploy = Step.objects.create(
        job=job, ordinal=2, position=2, name="Deploy 2025.1", action="deploy", playbook="site.yml"
    )
    JobEventSink(job, validate)(
        [
            runner_event(
                5,
                "runner_on_ok",
                "control01",
                "Reporting warnings",
                {"ansible_facts": {"ferry_warnings": [CERT_WARNING]}, "changed": False},
                action="ansible.builtin.set_fact",
            ),
            runner_event(
                6,
                "runner_on_ok",
                "compute01",
                "Reporting warnings",
                {"ansible_facts": {"ferry_warnings": []}, "changed": False},
                action="ansible.builtin.set_fact",
            ),
        ]
    )
    command = {
        "changed": True,
        "cmd": ["docker", "exec", "mariadb", "true"],
        "rc": 1,
        "stdout": "",
        "stderr": "\x1b[31mError response from daemon: No such container: mariadb\x1b[0m\nsecond line",
        "msg": "non-zero return code",
    }
    items = {
        "changed": False,
        "msg": "One or more items failed",
        "results": [
            {"item": "nova", "failed": False, "msg": "fine"},
            {"item": "neutron", "failed": True, "msg": "neutron.conf: no such file"},
        ],
    }
    JobEventSink(job, deploy)(
        [
            runner_event(3, "runner_on_failed", "control01", "Checking MariaDB", command, action="command"),
            runner_event(4, "runner_on_failed", "control02", "Copying config", items, action="copy"),
        ]
    )

    found = [(f.severity, f.step, f.host, f.message) for f in job_findings(job)]

    assert found == [
        ("warning", VALIDATE_STEP, "control01", CERT_WARNING),
        (
            "failed",
            "Deploy 2025.1",
            "control01",
            "non-zero return code (rc 1): Error response from daemon: No such container: mariadb"
            "\nsecond line",
        ),
        ("failed", "Deploy 2025.1", "control02", "One or more items failed: neutron.conf: no such file"),
    ]


def test_finding_a_long_jobs_findings_costs_three_queries(demo_cloud, django_assert_max_num_queries):
    job, steps = validate_job(demo_cloud, attempts=2)
    more = Step.objects.create(
        job=job, ordinal=3, position=2, attempt=2, name="Validate again", action=VALIDATE, playbook="v.yml"
    )
    for step in (*steps, more):
        JobEventSink(job, step)(
            [
                event
                for base in range(0, 4000, 100)
                for event in (
                    ok(base + 1, "ctl01", "Checking certificate expiry", "x", ferry_warnings=[f"w{base}"]),
                    failed(base + 2, "cmp01", "Checking free disk", f"f{base}", ignored=True),
                    ok(base + 3, "ctl01", "Counting", "nothing to say"),
                )
            ]
        )
    job = Job.objects.get(pk=job.pk)

    with django_assert_max_num_queries(3):
        found = job_findings(job)
    with django_assert_max_num_queries(3):
        first = job_findings(job, limit=5)

    # Two validate steps of the current attempt with 40 warnings and 40 failures each: the first 100.
    assert len(found) == 100
    assert [f.seq for f in found] == sorted(f.seq for f in found)
    assert [f.message for f in first] == ["w0", "f0", "w100", "f100", "w200"]
    assert {f.step for f in found} == {VALIDATE_STEP, "Validate again"}


def test_a_summary_stands_alone_and_other_steps_ignored_failures_say_so(demo_cloud):
    """The summary is left out only where the checks it repeats are listed; a failure that any
    other step's play went past is marked ignored."""
    job, (validate,) = validate_job(demo_cloud)
    deploy = Step.objects.create(
        job=job, ordinal=2, position=2, name="Deploy 2025.1", action="deploy", playbook="site.yml"
    )
    JobEventSink(job, validate)(
        [failed(80, "cmp01", "Failing on the findings above", SUMMARY, ignored=False, action="fail")]
    )
    JobEventSink(job, deploy)(
        [failed(3, "ctl01", "Removing an old container", "no such container", ignored=True, action="command")]
    )

    found = [(f.step, f.host, f.message, f.ignored) for f in job_findings(job)]

    assert found == [
        (VALIDATE_STEP, "cmp01", SUMMARY, False),
        ("Deploy 2025.1", "ctl01", "no such container", True),
    ]
