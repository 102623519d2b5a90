"""Plans in a real browser: the launch page's preview follows the form, and a gate waits for a person.

Embedded shape (one daphne process, in-process worker), chromium through playwright, under the
site's Content-Security-Policy: htmx and the job page's script come from static files only.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.jobs.tests.test_gates_lab import INVENTORY as CELLS_INVENTORY
from tests.e2e.test_job_page_browser import browser, login, wait_until  # noqa: F401  (the browser fixture)
from tests.e2e.test_jobs_production import launch, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group("plans-browser"),  # one worker starts the module's stack
]


def cells_inventory_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("multinode", CELLS_INVENTORY)
        for cell in ("cell1", "cell2"):
            archive.writestr(
                f"group_vars/{cell}",
                f"nova_cell_name: {cell}\nnova_cell_compute_group: {cell}-compute\n"
                f"nova_cell_conductor_group: {cell}-control\n",
            )
    return buffer.getvalue()


@pytest.fixture(scope="module")
def gated(embedded_stack):
    """A cloud of two cells on 2025.1 (as the catalog says; deployed by the test that needs it)."""
    admin = embedded_stack.login("admin")
    assert admin.post("/api/clouds/", json={"slug": "gated"}).status_code == 201
    response = admin.post(
        "/api/clouds/gated/import-inventory/",
        files={
            "inventory": ("inventory.zip", cells_inventory_zip()),
            "globals": ("globals.yml", b'kolla_base_distro: "rocky"\nenable_mariabackup: "yes"\n'),
        },
        data={"release": "2025.1"},
    )
    assert response.status_code == 200 and response.json()["cells"] == ["cell1", "cell2"], response.text
    return embedded_stack


def preview_text(page) -> str:
    return page.evaluate("document.getElementById('plan-preview').textContent")


def test_the_plan_preview_follows_the_launch_form(gated, browser):  # noqa: F811
    stack = gated
    page = browser.new_page()
    login(page, stack, "operator", "operator-demo-pass")
    page.goto(f"{stack.base_url}/clouds/gated/jobs/new/?kind=prechecks")
    assert page.locator("#id_target_release").count() == 0
    assert "kolla-ansible prechecks" in preview_text(page)

    page.select_option("#id_kind", "upgrade")
    # The upgrade's own field appears, and the preview names what it still needs.
    wait_until(page, "document.getElementById('id_target_release') !== null")
    wait_until(page, "document.getElementById('plan-refusal')?.textContent.includes('target_release')")
    assert page.locator("#id_release").count() == 0

    page.select_option("#id_target_release", "2025.2")
    wait_until(page, "document.getElementById('plan-hash') !== null")
    text = preview_text(page)
    assert "kolla-ansible upgrade" in text and "2025.1 → 2025.2" in text
    first_hash = page.get_attribute("#plan-preview", "data-hash")

    page.select_option("#id_kind", "ffu")
    wait_until(page, "document.getElementById('id_pause_between_hops') !== null")
    page.select_option("#id_target_release", "2026.2")
    wait_until(page, "document.getElementById('plan-preview').textContent.includes('2026.2')")
    assert "gate: waits for a person" not in preview_text(page)
    page.click("label[for='id_pause_between_hops']")  # as a person does: the label toggles the box
    wait_until(
        page, "document.getElementById('plan-preview').textContent.includes('gate: waits for a person')"
    )
    assert page.get_attribute("#plan-preview", "data-hash") != first_hash
    page.close()


def test_a_gate_waits_and_continues_from_the_job_page(gated, browser):  # noqa: F811
    stack = gated
    api = stack.login("operator")
    deploy = launch(api, cloud="gated", kind="deploy", confirm=True)
    assert wait_for(api, deploy["id"], {"succeeded", "failed"}, timeout=300)["state"] == "succeeded"

    job = launch(
        api,
        cloud="gated",
        kind="cell-rollout",
        params={"target_release": "2025.2", "canary": "cell2"},
        confirm=True,
    )
    page = browser.new_page()
    login(page, stack, "operator", "operator-demo-pass")
    page.goto(f"{stack.base_url}/jobs/{job['id']}/")
    # The page was opened before the gate: the state and the buttons arrive over the WebSocket.
    wait_until(page, "document.getElementById('job-state').textContent === 'waiting'", timeout=300_000)
    wait_until(page, "!document.getElementById('gate-form').hidden")
    assert page.is_hidden("#cancel-form")
    assert api.get(f"/api/jobs/{job['id']}/").json()["state"] == "waiting"

    page.fill("#gate-reason", "canary cell2 answers")
    page.click("#gate-continue")
    wait_until(page, "document.getElementById('job-state').textContent !== 'waiting'")
    wait_until(page, "document.getElementById('gate-form').hidden")
    done = wait_for(api, job["id"], {"succeeded", "failed", "canceled"}, timeout=300)
    assert all(s["state"] != "pending" for s in done["steps"])
    page.close()
