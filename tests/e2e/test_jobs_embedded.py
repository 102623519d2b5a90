"""The embedded shape (`make run`): a lab job runs in the in-process worker on SQLite."""

from __future__ import annotations

import pytest

from tests.e2e.stack import LAB_INVENTORY, launch, wait_for

pytestmark = [pytest.mark.ansible, pytest.mark.server, pytest.mark.xdist_group("jobs-embedded")]


def test_embedded_worker_runs_a_deploy_on_sqlite(embedded_stack):
    admin = embedded_stack.login("admin")
    assert admin.post("/api/clouds/", json={"slug": "e2e"}).status_code == 201
    response = admin.post(
        "/api/clouds/e2e/import-inventory/", files={"inventory": ("multinode", LAB_INVENTORY)}
    )
    assert response.status_code == 200, response.text
    operator = embedded_stack.login("operator")
    job = launch(operator, kind="deploy", params={"release": "2025.1"}, confirm=True)
    done = wait_for(operator, job["id"], {"succeeded", "failed"}, timeout=300)
    assert done["state"] == "succeeded", operator.get(f"/jobs/{job['id']}/log.txt").text[-2000:]
    assert done["worker"]  # the in-process worker of the web server
    cloud = operator.get("/api/clouds/e2e/").json()
    assert cloud["release"] == "2025.1" and cloud["state"] == "deployed"
