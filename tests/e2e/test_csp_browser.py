"""Ferry's pages work in a real browser under their Content-Security-Policy, with no violation.

The policy runs only Ferry's own script files; this drives the pages that need script (the live
dashboard, the job log over its WebSocket, the cancel confirmation, the API docs) in chromium and
fails on any refused script, style or connection.
"""

from __future__ import annotations

import pytest

from tests.e2e.stack import EMBEDDED_BROWSER_GROUP, launch, wait_for
from tests.e2e.test_job_page_browser import browser, login  # noqa: F401  (the browser fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ansible,
    pytest.mark.xdist_group(EMBEDDED_BROWSER_GROUP),  # one worker, one embedded stack for the group
]


def _watch(page) -> list[str]:
    """Every CSP violation the page reports, as chromium logs them."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return refused


def test_pages_run_under_the_csp_without_violations(shared_embedded_stack, browser):  # noqa: F811
    stack = shared_embedded_stack
    api = stack.login("operator")
    job = launch(api, cloud="demo", kind="prechecks", params={"release": "2025.1"})
    assert wait_for(api, job["id"], {"succeeded", "failed"}, timeout=300)["state"] in {"succeeded", "failed"}

    page = browser.new_page()
    refused = _watch(page)
    login(page, stack, "operator", "operator-demo-pass")
    # htmx fills the active jobs box (script from a file, no eval).
    page.wait_for_function("document.getElementById('active-jobs').innerHTML.trim().length > 0")
    # The job log replays over the WebSocket (connect-src 'self').
    page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    page.wait_for_function("window.ferryLog && window.ferryLog.lines.length > 0", timeout=60_000)
    # Swagger UI draws the schema from Ferry's own static files.
    page.goto(f"{stack.base_url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
    assert refused == []
    page.close()


def test_cancel_asks_for_confirmation_from_a_script_file(shared_embedded_stack, browser):  # noqa: F811
    stack = shared_embedded_stack
    api = stack.login("operator")
    job = launch(api, cloud="demo", kind="prechecks", params={"release": "2025.1", "lab_slow_seconds": 30})
    page = browser.new_page()
    refused = _watch(page)
    login(page, stack, "operator", "operator-demo-pass")
    page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    asked: list[str] = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("#cancel-form button")  # returns once the dialog has been answered
    assert asked and asked[0].startswith(f"Cancel job #{job['id']}?")
    # Dismissed: nothing was sent, the job was not asked to stop.
    assert api.get(f"/api/jobs/{job['id']}/").json()["state"] not in {"canceling", "canceled"}
    assert refused == []
    api.post(f"/api/jobs/{job['id']}/cancel/")
    page.close()
