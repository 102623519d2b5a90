"""Change control in a real browser: an operator asks, an approver approves, the job waits for its
maintenance window and runs when beat sees the window open.

Embedded shape (one daphne process, in-process worker and beat, SQLite: what `make run` starts),
chromium through playwright; the deploy it runs is the embedded shape's real job.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.stack import EMBEDDED_BROWSER_GROUP, LAB_INVENTORY, wait_for
from tests.e2e.test_job_page_browser import browser, login, wait_until  # noqa: F401  (the browser fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group(EMBEDDED_BROWSER_GROUP),  # one worker, one embedded stack for the group
]
SLUG = "cc"


@pytest.fixture(scope="module")
def controlled(shared_embedded_stack):
    """Cloud ``cc``: one approval needed, and its only maintenance window days away."""
    admin = shared_embedded_stack.login("admin")
    assert admin.post("/api/clouds/", json={"slug": SLUG}).status_code == 201
    response = admin.post(
        f"/api/clouds/{SLUG}/import-inventory/",
        files={"inventory": ("multinode", LAB_INVENTORY)},
        data={"release": "2025.1"},
    )
    assert response.status_code == 200, response.text
    policy = admin.put(f"/api/clouds/{SLUG}/approval-policy/", json={"approvals_required": 1})
    assert policy.status_code == 200, policy.text
    later = datetime.now(UTC) + timedelta(days=3)
    window = {"weekdays": [later.weekday()], "start_time": "12:00", "duration": "01:00:00", "timezone": "UTC"}
    assert (
        admin.post(f"/api/clouds/{SLUG}/windows/", json={**window, "label": "patch night"}).status_code == 201
    )
    return shared_embedded_stack


def test_request_approve_scheduled_then_run_in_its_window(controlled, browser):  # noqa: F811
    stack = controlled
    operator = browser.new_page()
    login(operator, stack, "operator", "operator-demo-pass")
    operator.goto(f"{stack.base_url}/clouds/{SLUG}/jobs/new/?kind=deploy")
    assert operator.is_visible("#needs-approval")
    operator.select_option("#id_release", "2025.1")
    operator.fill("#id_reason", "first deploy of cc")
    operator.check("#id_confirm")
    # Each change redraws the form with its values (htmx); the last redraw wins, then submit.
    wait_until(operator, "!document.getElementById('launch-form').classList.contains('htmx-request')")
    wait_until(operator, "document.getElementById('plan-hash') !== null")
    assert operator.input_value("#id_reason") == "first deploy of cc" and operator.is_checked("#id_confirm")
    operator.click("#launch-submit")
    operator.wait_for_url(f"{stack.base_url}/jobs/*/")
    job_id = int(operator.url.rstrip("/").rsplit("/", 1)[1])
    # As rendered, and as the live update redraws it.
    wait_until(operator, "document.getElementById('job-state').textContent === 'awaiting approval'")

    approver = browser.new_page()
    login(approver, stack, "approver", "approver-demo-pass")
    assert approver.inner_text("#nav-approvals-count") == "1"
    approver.goto(f"{stack.base_url}/approvals/")
    approver.click(f"#approval-queue tr[data-job='{job_id}'] a")
    approver.wait_for_url(f"{stack.base_url}/jobs/{job_id}/")
    approver.fill("#approval-decision-reason", "plan read: a first deploy")
    approver.click("#approval-approve")
    # Outside its window: approved, then scheduled for the window days away.
    wait_until(approver, "document.getElementById('job-scheduled') !== null")
    assert "patch night" in approver.inner_text("#job-scheduled")
    api = stack.login("approver")
    assert api.get(f"/api/jobs/{job_id}/").json()["state"] == "scheduled"

    # The window moves to open seconds from now; beat (every 10 s) queues the job when it opens.
    admin = stack.login("admin")
    soon = datetime.now(UTC) + timedelta(seconds=5)
    window = {
        "weekdays": [soon.weekday()],
        "start_time": soon.strftime("%H:%M:%S"),
        "duration": "01:00:00",
        "timezone": "UTC",
        "label": "now",
    }
    assert admin.post(f"/api/clouds/{SLUG}/windows/", json=window).status_code == 201
    opened = time.monotonic()
    done = wait_for(api, job_id, {"succeeded", "failed"}, timeout=300)
    assert done["state"] == "succeeded", api.get(f"/jobs/{job_id}/log.txt").text[-3000:]
    # The embedded shape (`make run`): the web server's in-process worker ran it, on SQLite.
    assert done["worker"]
    cloud = api.get(f"/api/clouds/{SLUG}/").json()
    assert cloud["release"] == "2025.1" and cloud["state"] == "deployed"
    print(f"queued and ran {time.monotonic() - opened:.0f} s after the window was added")
    operator.goto(f"{stack.base_url}/jobs/{job_id}/")
    assert operator.inner_text("#job-state") == "succeeded"

    actions = [
        e["action"]
        for e in admin.get("/api/audit/", params={"object_id": job_id, "action": "job."}).json()["results"]
    ]
    for action in (
        "job.launch",
        "job.approval_requested",
        "job.approved",
        "job.scheduled",
        "job.window_opened",
    ):
        assert action in actions, actions
    operator.close()
    approver.close()
