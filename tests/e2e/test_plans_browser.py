"""Plans in a real browser: the launch page's preview follows the form, and a gate waits for a person
in a whole-cloud cell rollout run for real on the lab.

Embedded shape (one daphne process, in-process worker), chromium through playwright, under the
site's Content-Security-Policy: htmx and the job page's script come from static files only.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.e2e.stack import EMBEDDED_BROWSER_GROUP
from tests.e2e.test_job_page_browser import browser, login, wait_until  # noqa: F401  (the browser fixture)
from tests.e2e.test_jobs_production import launch, wait_for

# One controller and one compute per cell that also conducts it: the least a rollout needs.
CELLS_INVENTORY = """
[control]
ctl01
[network]
ctl01
[monitoring]
ctl01
[storage]
ctl01
[compute]
cmp01
cmp02
[cell1-control]
cmp01
[cell1-compute]
cmp01
[cell1:children]
cell1-control
cell1-compute
[cell2-control]
cmp02
[cell2-compute]
cmp02
[cell2:children]
cell2-control
cell2-compute
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group(EMBEDDED_BROWSER_GROUP),  # one worker, one embedded stack for the group
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
def gated(shared_embedded_stack):
    """A cloud of two cells on 2025.1 (as the catalog says; deployed by the test that needs it)."""
    admin = shared_embedded_stack.login("admin")
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
    return shared_embedded_stack


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


def lab_containers(stack, host: str) -> dict[str, dict]:
    """The lab's record of what runs on ``host`` of the cloud ``gated``."""
    directory = stack.var_dir / "lab" / "gated" / host / "containers"
    return {path.stem: json.loads(path.read_text()) for path in directory.glob("*.json")}


def cell_releases(api) -> dict[str, str | None]:
    cells = api.get("/api/cells/", params={"limit": 100}).json()["results"]
    return {c["name"]: c["release"] for c in cells if c["cloud"] == "gated"}


def test_a_gate_waits_and_continues_from_the_job_page(gated, browser):  # noqa: F811
    """The whole-cloud cell rollout, on the lab through the embedded worker: it waits after the
    canary cell, then upgrades everything, and only its final check moves the cloud's release."""
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
    waiting = api.get(f"/api/jobs/{job['id']}/").json()
    assert waiting["state"] == "waiting"
    [gate] = [s for s in waiting["steps"] if s["gate"]]
    assert gate["name"] == "Upgrade canary cell cell2" and gate["state"] == "succeeded"
    assert {s["state"] for s in waiting["steps"] if s["position"] > gate["position"]} == {"pending"}
    cloud = api.get("/api/clouds/gated/").json()
    assert (cloud["release"], cloud["state"]) == ("2025.1", "upgrading")
    # The canary's computes run the new release; the other cell's have not moved.
    assert lab_containers(stack, "cmp02")["nova-compute"]["release"] == "2025.2"
    assert lab_containers(stack, "cmp01")["nova-compute"]["release"] == "2025.1"
    assert cell_releases(api) == {"cell1": "2025.1", "cell2": "2025.2"}

    page.fill("#gate-reason", "canary cell2 answers")
    page.click("#gate-continue")
    wait_until(page, "document.getElementById('job-state').textContent !== 'waiting'")
    wait_until(page, "document.getElementById('gate-form').hidden")
    done = wait_for(api, job["id"], {"succeeded", "failed", "canceled"}, timeout=300)
    assert done["state"] == "succeeded", api.get(f"/jobs/{job['id']}/log.txt").text[-3000:]
    assert {s["attempt"] for s in done["steps"]} == {1}  # continued, not resumed
    # The final check passed: every container of every host runs the new release, not nova's only
    # (haproxy, keepalived, keystone… were upgraded before nova, the rest after it).
    for host in ("ctl01", "cmp01", "cmp02"):
        assert {c["release"] for c in lab_containers(stack, host).values()} == {"2025.2"}, host
    cloud = api.get("/api/clouds/gated/").json()
    assert (cloud["release"], cloud["state"]) == ("2025.2", "deployed")
    history = api.get("/api/clouds/gated/history/").json()["results"]
    assert [(row["job"], row["to"]) for row in history if row["job"] == job["id"]] == [(job["id"], "2025.2")]
    assert [hop["to"] for hop in history[0]["hops"]] == ["2025.2"]
    assert cell_releases(api) == {"cell1": "2025.2", "cell2": "2025.2"}
    page.close()
