"""What a job found, for the job page: failed and unreachable tasks, and the validations' warnings.

An operator woken by a failed job wants the hosts and the messages, not the log. The validations
(runner/lab/ferry-validate.yml, runner/playbooks/ferry-validate.yml) run every check with
``ignore_errors`` and fail each host once more at the end with all its findings: each check that
failed is a failure here, listed once (the summary that repeats a host's checks is left out), and a
check that only needs a look (a certificate that expires soon) an ok result carrying
``ferry_warnings``. A failed
``validate-config`` and any failed task of any other step are failures like the rest.

Only the job's current attempt counts: a resumed job's earlier attempts found what was since fixed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from apps.jobs.models import FAILURE_EVENTS, Event, Job
from runner.planner import VALIDATE

# The only steps whose results carry ``ferry_warnings``: looking for them elsewhere would read every
# event of a long deploy on each view of its page.
WARNING_ACTIONS = frozenset({VALIDATE})
MESSAGE_CHARS = 500
OUTPUT_LINES = 5
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Finding:
    """One thing a job found on one host: a failed or unreachable task, or a validation's warning.

    ``ignored`` failures are those of tasks with ``ignore_errors``: the play went on past them, as
    the validations do to report every check in one run.
    """

    seq: int
    step: str
    host: str
    task: str
    message: str
    severity: str  # "failed", "unreachable" or "warning"
    ignored: bool = False


def job_findings(job: Job, limit: int = 100) -> list[Finding]:
    """The findings of ``job``'s current attempt in the order they happened, the first ``limit``.

    Three queries whatever the job's size: its current steps, its failures (a partial index holds
    exactly the failed and unreachable events, so a job of 200,000 events costs no more than one of
    200), and the ok results that carry warnings, looked for in the validation steps only.
    """
    steps = {
        pk: (name, ordinal, action)
        for pk, name, ordinal, action in job.steps.filter(attempt=job.attempt)
        .order_by()
        .values_list("pk", "name", "ordinal", "action")
    }
    if not steps:
        return []
    fields = ("seq", "step_id", "event", "host", "task", "stdout", "event_data")
    first_seq = min(ordinal for _, ordinal, _ in steps.values()) * Event.SEQ_STEP
    failures = list(
        Event.objects.filter(job=job, event__in=FAILURE_EVENTS, seq__gte=first_seq)
        .order_by("seq")
        .values_list(*fields)[:limit]
    )
    # seq ranges of the validation steps: the (job, seq) index finds their events without a scan.
    in_validations = Q()
    for _, ordinal, action in steps.values():
        if action in WARNING_ACTIONS:
            in_validations |= Q(seq__gte=ordinal * Event.SEQ_STEP, seq__lt=(ordinal + 1) * Event.SEQ_STEP)
    warned: list[tuple] = []
    if in_validations:
        warned = list(
            Event.objects.filter(in_validations, job=job, event="runner_on_ok")
            # Most results carry no warning: only those whose text names them are decoded.
            .annotate(text=Cast("event_data", TextField()))
            .filter(text__contains="ferry_warnings")
            .order_by("seq")
            .values_list(*fields)[:limit]
        )
    found: list[Finding] = []
    # (step, host) of the validation checks found failing: the validations' last task fails such a
    # host once more with all of them, which would list each finding twice.
    checked: set[tuple[int, str]] = set()
    for seq, step_id, event, host, task, stdout, data in sorted(failures + warned, key=lambda row: row[0]):
        data = data if isinstance(data, dict) else {}
        res = data.get("res") if isinstance(data.get("res"), dict) else {}
        step, _, action = steps.get(step_id, ("", 0, ""))
        ignored = bool(data.get("ignore_errors"))
        if action in WARNING_ACTIONS and event == "runner_on_failed":
            if ignored:
                # A check the validation went past to run the others: its summary fails the step
                # on it, so it is a failure like any other, not one the job went on after.
                checked.add((step_id, host))
                ignored = False
            elif (step_id, host) in checked:
                continue  # the summary of the checks listed above
        if event == "runner_on_ok":
            found.extend(
                Finding(seq, step, host, task, _trim(str(warning)), "warning") for warning in _warnings(res)
            )
        else:
            found.append(
                Finding(
                    seq,
                    step,
                    host,
                    task,
                    _message(res, stdout),
                    "unreachable" if event == "runner_on_unreachable" else "failed",
                    # Stored runner events carry the task's ignore_errors beside the result (True or
                    # None); an unreachable host is never ignored.
                    ignored=ignored,
                )
            )
    return found[:limit]


def _warnings(res: dict[str, Any]) -> list[Any]:
    """``ferry_warnings`` of a result: the lab's lab_validate returns them in its result, the
    kolla-ansible playbook sets them as a fact (``res["ansible_facts"]``), an empty list when none."""
    facts = res.get("ansible_facts") if isinstance(res.get("ansible_facts"), dict) else {}
    warnings = res.get("ferry_warnings", facts.get("ferry_warnings"))
    return warnings if isinstance(warnings, list) else []


def _message(res: dict[str, Any], stdout: str) -> str:
    """What a failed or unreachable task said: its ``msg`` (with the failed items' own for a loop);
    for a command that only says "non-zero return code", or a result without a message, the first
    lines of its stderr or stdout, else of what Ansible printed for it."""
    message = str(res.get("msg") or "").strip()
    items = res.get("results") if isinstance(res.get("results"), list) else []
    item_messages = [
        str(item.get("msg")).strip()
        for item in items
        if isinstance(item, dict) and item.get("failed") and item.get("msg")
    ]
    if item_messages:
        message = f"{message}: {'; '.join(item_messages)}" if message else "; ".join(item_messages)
    if not message or message == "non-zero return code":
        for output in (res.get("stderr"), res.get("stdout"), "" if message else stdout):
            lines = ANSI_ESCAPE.sub("", str(output or "")).strip().splitlines()[:OUTPUT_LINES]
            if lines:
                said = "\n".join(lines)
                message = f"{message} (rc {res.get('rc')}): {said}" if message else said
                break
    return _trim(message or "failed without a message")


def _trim(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"
