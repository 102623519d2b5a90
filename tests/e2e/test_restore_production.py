"""Restore a chosen backup in production shape: API → PostgreSQL → Redis → a separate worker → the lab.

Back up (A), change the database, back up (B, an increment on A), then restore A through the API:
the worker puts A back on its node, stops MariaDB, prepares and copies it back and recovers the
cluster, and the lab database holds A's content on every database host, not B's. Then restore B
with ``manage.py launch``: A and the increment, in that order, give B's content. Last, A's copy
in Ferry's store is damaged: its restore fails before it touches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.e2e.stack import RECOVERY_GROUP
from tests.e2e.test_jobs_production import wait_for

pytestmark = [
    pytest.mark.production,
    pytest.mark.ansible,
    pytest.mark.server,
    pytest.mark.xdist_group(RECOVERY_GROUP),  # one worker, one stack for the group
]

INVENTORY = b"[control]\nctl01\nctl02\n[network]\nctl01\n[monitoring]\nctl01\n[compute]\ncmp01\n"
DATABASE_HOSTS = ("ctl01", "ctl02")


def run(client, **body) -> dict:
    response = client.post("/api/jobs/", json={"cloud": "restore", **body})
    assert response.status_code == 201, response.text
    done = wait_for(client, response.json()["id"], {"succeeded", "failed"}, timeout=400)
    assert done["state"] == "succeeded", client.get(f"/jobs/{done['id']}/log.txt").text[-3000:]
    return done


def test_restoring_a_chosen_backup_through_the_api_brings_back_its_content(shared_production_stack):
    stack = shared_production_stack
    admin = stack.login("admin")
    response = admin.post(
        "/api/clouds/",
        json={
            "slug": "restore",
            "passwords_yml": "database_password: E2e-Secret-99\n",
            "globals_yml": 'kolla_base_distro: "rocky"\nenable_mariabackup: "yes"\n',
        },
    )
    assert response.status_code == 201, response.text
    response = admin.post(
        "/api/clouds/restore/import-inventory/",
        files={"inventory": ("multinode", INVENTORY)},
        data={"release": "2025.1"},
    )
    assert response.status_code == 200, response.text
    operator = stack.login("operator")
    run(operator, kind="deploy", confirm=True)

    def data_file(host: str):
        return stack.var_dir / "lab" / "restore" / host / "volumes" / "mariadb" / "ibdata1"

    def databases(host: str) -> dict:
        return json.loads(data_file(host).read_text())["databases"]

    run(operator, kind="backup", params={"label": "a", "backup_type": "full"}, confirm=True)
    content_a = databases("ctl01")
    for host in DATABASE_HOSTS:  # a write the cluster replicated
        data = json.loads(data_file(host).read_text())
        data["databases"]["keystone"]["rows"].append({"id": 999, "name": "written-after-a"})
        data["seq"] += 1
        data_file(host).write_text(json.dumps(data))
    run(operator, kind="backup", params={"label": "b", "backup_type": "incremental"}, confirm=True)
    backups = operator.get("/api/backups/", params={"cloud": "restore"}).json()["results"]
    b, a = backups  # newest first
    assert (a["label"], a["state"], b["label"], b["kind"]) == ("a", "verified", "b", "incremental")
    assert b["parent"] == a["id"] and a["node"] == "ctl01"
    # Ferry's own copy, off the database node, is what it verified.
    copy = Path(a["store_path"]) / "data"
    assert copy.is_file() and a["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    content_b = databases("ctl01")
    assert content_b != content_a

    done = run(operator, kind="restore", params={"backup": a["id"]}, confirm=True)
    assert done["steps"][0]["name"].startswith(f"Put backup #{a['id']} (full, ")
    for host in DATABASE_HOSTS:
        assert databases(host) == content_a

    # The increment, launched from the command line: its full parent, then the increment.
    out = stack.manage(
        "launch", "restore", "restore", "--param", f"backup={b['id']}", "--user", "operator", "--yes"
    )
    job_id = int(re.search(r"job (\d+) queued", out)[1])
    done = wait_for(operator, job_id, {"succeeded", "failed"}, timeout=400)
    assert done["state"] == "succeeded", operator.get(f"/jobs/{job_id}/log.txt").text[-3000:]
    assert f"incremental on #{a['id']}" in done["steps"][0]["name"]
    for host in DATABASE_HOSTS:
        assert databases(host) == content_b

    # A copy damaged in Ferry's store: the restore fails before it touches the database.
    copy.write_text('{"databases": {}}')
    response = operator.post(
        "/api/jobs/",
        json={"cloud": "restore", "kind": "restore", "params": {"backup": a["id"]}, "confirm": True},
    )
    assert response.status_code == 201, response.text
    damaged = wait_for(operator, response.json()["id"], {"succeeded", "failed"}, timeout=400)
    assert damaged["state"] == "failed"
    push, *rest = damaged["steps"]
    assert push["state"] == "failed" and {s["state"] for s in rest} == {"skipped"}
    log = operator.get(f"/jobs/{damaged['id']}/log.txt").text
    assert f"Ferry's copy of backup #{a['id']}" in log and "damaged" in log
    for host in DATABASE_HOSTS:
        assert databases(host) == content_b
