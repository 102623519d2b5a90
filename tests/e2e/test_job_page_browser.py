"""The live job page in a real browser (Debian's chromium through playwright), production shape.

An operator watches a lab job: lines appear while it runs, the page is
reloaded mid-job, and at the end the page holds every line of every event, in
order, exactly as stored. An outsider is refused the page and the socket.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from websockets.sync.client import connect

from tests.e2e.stack import add_lab_cloud, launch, wait_for

pytestmark = [
    pytest.mark.production,
    pytest.mark.browser,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group("job-page-browser"),  # one worker starts the module's stack, not each
]

CHROMIUM = os.environ.get("FERRY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"browser tests need chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("FERRY_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def deployed(production_stack):
    add_lab_cloud(production_stack, slug="web")
    production_stack.manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import User; "
            "User.objects.filter(username='oscar').exists() or "
            "User.objects.create_user('oscar', password='oscar-pass-1')"
        ),
    )
    return production_stack


def login(page, stack, username: str, password: str) -> None:
    page.goto(f"{stack.base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/")


def wait_until(page, expression: str, timeout: int = 30_000) -> None:
    """Poll a JavaScript expression until it is true, within ``timeout`` ms.

    Playwright's wait_for_function evaluates its string inside the page, which the page's
    Content-Security-Policy (no 'unsafe-eval') refuses; evaluate() goes through the browser's
    debugging protocol instead.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} ms: {expression}")
        time.sleep(0.1)


def stored_lines(client, job_id: int) -> list[tuple[int, str]]:
    lines, after = [], 0
    while after is not None:
        page = client.get(f"/api/jobs/{job_id}/events/", params={"after": after, "limit": 2000}).json()
        for event in page["events"]:
            if event["stdout"]:
                lines += [(event["seq"], text) for text in event["stdout"].split("\n")]
        after = page["next_after"]
    return lines


def test_operator_watches_a_job_live_reloads_mid_job_and_sees_the_complete_log(deployed, browser):
    stack = deployed
    api = stack.login("operator")
    page = browser.new_page()
    login(page, stack, "operator", "operator-demo-pass")
    job = launch(api, cloud="web", kind="reconfigure", confirm=True, params={"lab_item_delay": 0.05})
    page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    wait_until(page, "window.ferryLog && window.ferryLog.lines.length > 0", timeout=60_000)
    first_count = page.evaluate("window.ferryLog.lines.length")
    state = api.get(f"/api/jobs/{job['id']}/").json()["state"]
    assert state in {"running", "queued"}, "the job ended before the page could watch it"

    wait_until(page, f"window.ferryLog.lines.length > {first_count}", timeout=60_000)
    page.reload()  # mid-job: the page starts again from nothing and must catch up
    wait_until(page, "window.ferryLog && window.ferryLog.lines.length > 0", timeout=60_000)
    assert page.locator("#log-connection").inner_text(timeout=30_000) in {"live", "connecting…", "finished"}

    done = wait_for(api, job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["state"] == "succeeded", done["result"]
    wait_until(page, "document.getElementById('job-state').textContent === 'succeeded'", timeout=30_000)
    expected = stored_lines(api, job["id"])
    wait_until(page, f"window.ferryLog.lines.length >= {len(expected)}", timeout=30_000)
    shown = page.evaluate("window.ferryLog.lines.map(l => [l.seq, l.plain])")
    assert [tuple(x) for x in shown] == _plain(expected)
    assert page.locator("#step-progress").inner_text() == f"{len(done['steps'])} of {len(done['steps'])} done"
    page.close()


def test_a_failing_job_settles_every_step_on_the_open_page(deployed, browser):
    stack = deployed
    api = stack.login("operator")
    page = browser.new_page()
    login(page, stack, "operator", "operator-demo-pass")
    params = {"lab_item_delay": 0.05, "lab_fail": {"cmp01": ["reconfigure"]}}
    job = launch(api, cloud="web", kind="reconfigure", confirm=True, params=params)
    page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    wait_until(page, "window.ferryLog && window.ferryLog.lines.length > 0", timeout=60_000)
    assert api.get(f"/api/jobs/{job['id']}/").json()["state"] in {"running", "queued"}, "ended too soon"

    done = wait_for(api, job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["state"] == "failed", done["result"]
    wait_until(page, "document.getElementById('job-state').textContent === 'failed'", timeout=30_000)
    states = "[...document.querySelectorAll('#steps [data-role=state]')].map(b => b.textContent.trim())"
    wait_until(page, f"!{states}.includes('pending')", timeout=30_000)
    assert page.evaluate(states) == [s["state"] for s in done["steps"]] == ["succeeded", "failed", "skipped"]
    page.close()


def _plain(lines):
    import re

    return [(seq, re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)) for seq, text in lines]


def test_outsider_is_refused_the_page_and_the_socket(deployed, browser):
    stack = deployed
    api = stack.login("operator")
    job = launch(api, cloud="web", kind="prechecks")
    page = browser.new_page()
    login(page, stack, "oscar", "oscar-pass-1")
    response = page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    assert response.status == 404
    page.close()

    outsider = stack.login("oscar", "oscar-pass-1")
    with connect(f"{stack.ws_url}/ws/jobs/{job['id']}/", additional_headers=stack.ws_headers(outsider)) as ws:
        assert json.loads(ws.recv(timeout=10)) == {"kind": "error", "reason": "you may not view this job"}
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=10)
        assert "4403" in str(closed.value)
    wait_for(api, job["id"], {"succeeded", "failed"}, timeout=120)
