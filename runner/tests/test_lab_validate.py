"""Ferry's validations before a maintenance on the lab, run for real: a healthy cloud passes, and each
injected fault fails its check naming the host and the finding, all in one run."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from runner.tests.lab_fixtures import LabCloud

pytestmark = pytest.mark.ansible

TARGET = {
    "openstack_release": "2025.2",
    "ferry_validate_compute_releases": ["2025.1", "2025.2"],
    "ferry_validate_soft_deleted_threshold": 1000,
    "ferry_validate_min_free_gb": 20,
    "ferry_validate_cert_warn_days": 30,
}


def edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(changes)
    path.write_text(json.dumps(data))


def days_from_now(days: int) -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)).isoformat()


def test_a_healthy_cloud_passes_every_validation(deployed_lab: LabCloud) -> None:
    result, events = deployed_lab.run("ferry-validate.yml", extra=TARGET)
    assert result.status == "successful", events.failure_messages()
    ok = {e["event_data"]["task"] for e in events.of("runner_on_ok")}
    assert "Running nova-status upgrade check in the 2025.2 nova image" in ok
    assert {"Checking Galera cluster size and sync", "Checking the RabbitMQ cluster"} <= ok
    assert "Checking the nova-compute release against the upgrade window" in ok


def test_each_fault_fails_its_check_naming_the_host_and_what_to_do(deployed_lab: LabCloud) -> None:
    root = deployed_lab.root
    data = json.loads((root / "ctl1/volumes/mariadb/ibdata1").read_text())
    data["databases"]["nova_cell1"]["soft_deleted"] = 5000
    (root / "ctl1/volumes/mariadb/ibdata1").write_text(json.dumps(data))
    edit(root / "ctl2/containers/mariadb.json", wsrep_local_state_comment="Donor/Desynced")
    edit(root / "ctl2/containers/rabbitmq.json", state="stopped")
    edit(root / "cmp1/host.json", free_gb=5)
    edit(root / "net1/certificates.json", **{"haproxy.pem": days_from_now(-1)})
    edit(root / "ctl1/certificates.json", **{"haproxy-internal.pem": days_from_now(10)})
    edit(root / "cmp3/containers/nova-compute.json", release="2024.2")

    result, events = deployed_lab.run(
        "ferry-validate.yml", extra=TARGET, fail={"cmp2": ["ferry-validate:disk"]}
    )

    assert result.status == "failed"
    assert sorted(result.hosts_with("failures")) == ["cmp1", "cmp2", "cmp3", "ctl1", "ctl2", "net1"]
    found = {host: " ".join(messages) for host, messages in events.failure_messages().items()}
    assert "nova_cell1 holds 5000 soft-deleted rows (threshold 1000" in found["ctl1"]
    assert "nova-manage db archive_deleted_rows" in found["ctl1"]
    assert "Older than N-1 computes: cmp3 runs 2024.2" in found["ctl1"]
    assert "RabbitMQ cluster seen from ctl1: not running on ctl2" in found["ctl1"]
    assert "Galera on ctl2: wsrep_local_state_comment is Donor/Desynced, not Synced" in found["ctl2"]
    assert "RabbitMQ on ctl2: the rabbitmq container is not running" in found["ctl2"]
    assert "cmp1 has 5 GB free for container images, 20 GB needed" in found["cmp1"]
    assert "failure injected by lab_fail" in found["cmp2"]
    assert "nova-compute on cmp3 runs 2024.2" in found["cmp3"]
    assert "haproxy.pem expired on" in found["net1"]
    # A certificate that expires soon is a warning: reported, not a failure.
    assert "haproxy-internal.pem" not in found["ctl1"]
    warned = [
        e["event_data"]["res"]
        for e in events.of("runner_on_ok", "ctl1")
        if e["event_data"]["task"] == "Checking certificate expiry"
    ]
    assert "haproxy-internal.pem on ctl1 expires on" in warned[0]["ferry_warnings"][0]
    # The last task sums up each host's findings in one message.
    summary = [m for m in events.failure_messages()["ctl1"] if "finding(s) on ctl1" in m]
    assert summary and summary[0].startswith("3 finding(s) on ctl1")


def test_the_archive_job_empties_what_validation_found(deployed_lab: LabCloud) -> None:
    path = deployed_lab.root / "ctl1/volumes/mariadb/ibdata1"
    data = json.loads(path.read_text())
    data["databases"]["nova_cell1"]["soft_deleted"] = 5000
    path.write_text(json.dumps(data))
    result, _ = deployed_lab.run("ferry-archive-deleted-rows.yml", extra={"ferry_archive_purge": False})
    assert result.status == "successful"
    for host in ("ctl1", "ctl2"):  # replicated to every node of the cluster
        archived = json.loads((deployed_lab.root / host / "volumes/mariadb/ibdata1").read_text())
        assert archived["databases"]["nova_cell1"]["soft_deleted"] == 0
        assert archived["databases"]["nova_cell1"]["shadow_rows"] == 5000


def test_validate_config_fails_on_an_option_the_service_does_not_know_naming_the_file(
    deployed_lab: LabCloud,
) -> None:
    from runner.backends import ConfigFile, lab_config_overrides, lab_config_sources

    files = [
        ConfigFile("config", "nova.conf", b"[DEFAULT]\nverbose = True\ncpu_allocation_ratio = 4.0\n"),
        ConfigFile("config", "nova/nova-compute.conf", b"[libvirt]\ncpu_mode = host-passthrough\n"),
    ]
    extra = {
        "lab_config_overrides": lab_config_overrides(files),
        "lab_config_sources": lab_config_sources(files),
    }
    result, _ = deployed_lab.run("site.yml", action="genconfig", extra=extra, tags="nova")
    assert result.status == "successful"
    result, events = deployed_lab.run("site.yml", action="validate-config", extra=extra, tags="nova")
    assert result.status == "failed"
    messages = " ".join(events.failure_messages()["cmp1"])
    assert "config/nova.conf: [DEFAULT] verbose is not an option nova knows" in messages
    assert "cpu_allocation_ratio" not in messages and "cpu_mode" not in messages
