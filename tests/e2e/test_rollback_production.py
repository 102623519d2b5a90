"""Rollback in production shape: API → PostgreSQL → Redis → a separate Celery worker → the lab.

Deploy, upgrade (which takes the backup), then roll back through the HTTP API: the control plane
is back on the old release with the backup's database, and the computes' libvirt and Open vSwitch
were never stopped.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.e2e.stack import RECOVERY_GROUP
from tests.e2e.test_jobs_production import wait_for

pytestmark = [
    pytest.mark.production,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group(RECOVERY_GROUP),  # one worker, one stack for the group
]

INVENTORY = b"[control]\nctl01\n[network]\nctl01\n[monitoring]\nctl01\n[compute]\ncmp01\n"
SLUG = "e2e-rollback"


def launch(client, **body) -> dict:
    response = client.post("/api/jobs/", json={"cloud": SLUG, **body})
    assert response.status_code == 201, response.text
    return response.json()


def run(client, **body) -> dict:
    job = launch(client, **body)
    done = wait_for(client, job["id"], {"succeeded", "failed"}, timeout=400)
    assert done["state"] == "succeeded", client.get(f"/jobs/{job['id']}/log.txt").text[-3000:]
    return done


def containers(stack, host: str) -> dict[str, dict]:
    directory = stack.var_dir / "lab" / SLUG / host / "containers"
    return {path.stem: json.loads(path.read_text()) for path in directory.glob("*.json")}


def test_rollback_through_the_api_restores_the_old_control_plane_and_keeps_the_data_plane(
    shared_production_stack,
):
    admin = shared_production_stack.login("admin")
    response = admin.post(
        "/api/clouds/",
        json={
            "slug": SLUG,
            "globals_yml": 'enable_mariabackup: "yes"\n',
            "passwords_yml": "database_password: Rb-Secret-99\n",
        },
    )
    assert response.status_code == 201, response.text
    response = admin.post(
        f"/api/clouds/{SLUG}/import-inventory/",
        files={"inventory": ("multinode", INVENTORY)},
        data={"release": "2025.1"},
    )
    assert response.status_code == 200, response.text
    operator = shared_production_stack.login("operator")
    run(operator, kind="deploy", confirm=True)
    run(operator, kind="upgrade", params={"target_release": "2025.2"}, confirm=True)
    [backup] = operator.get("/api/backups/", params={"cloud": SLUG}).json()["results"]
    assert backup["release"] == "2025.1" and backup["state"] == "verified"
    before = containers(shared_production_stack, "cmp01")
    # A change made on 2025.2 that the rollback must take back with the rest of the configuration.
    changed = admin.patch(
        f"/api/clouds/{SLUG}/", json={"globals_yml": 'enable_mariabackup: "yes"\nnova_console: novnc\n'}
    )
    assert changed.status_code == 200, changed.text

    preview = operator.get(f"/api/clouds/{SLUG}/plan/", params={"kind": "rollback", "backup": backup["id"]})
    assert preview.status_code == 200, preview.text
    assert "Loses every change the databases took since" in preview.json()["warnings"][0]
    refused = operator.post(
        "/api/jobs/", json={"cloud": SLUG, "kind": "rollback", "params": {"backup": 9999}}
    )
    assert refused.status_code == 400 and "backup" in refused.json()

    done = run(operator, kind="rollback", params={"backup": backup["id"]}, confirm=True)
    assert [s["state"] for s in done["steps"]] == ["succeeded"] * 10
    assert "Put back the configuration archived with" in done["steps"][7]["name"]
    cloud = operator.get(f"/api/clouds/{SLUG}/").json()
    assert cloud["release"] == "2025.1"
    assert cloud["globals_yml"] == 'enable_mariabackup: "yes"\n'  # as archived before the upgrade
    control = containers(shared_production_stack, "ctl01")
    assert {control[name]["release"] for name in ("keystone", "nova-api", "rabbitmq", "mariadb")} == {
        "2025.1"
    }
    node = shared_production_stack.var_dir / "lab" / SLUG / "ctl01" / "volumes"
    restored = json.loads((node / "mariadb" / "ibdata1").read_text())["databases"]
    # kolla leaves the backup on the node too: the databases are what it holds.
    kept = node / "mariadb_backup" / backup["name"] / "ibdata1"
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == backup["sha256"]
    assert restored == json.loads(kept.read_text())["databases"]
    after = containers(shared_production_stack, "cmp01")
    for name in ("nova-libvirt", "openvswitch-db-server", "openvswitch-vswitchd"):
        assert (
            after[name]["tag"] == before[name]["tag"] and after[name]["restarts"] == before[name]["restarts"]
        )
    assert all(c.get("stops", 0) == before[name].get("stops", 0) for name, c in after.items())
    assert after["nova-compute"]["release"] == "2025.1"
