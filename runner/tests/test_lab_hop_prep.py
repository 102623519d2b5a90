"""The lab's side of a hop's preparation: merging passwords keeps every secret and adds the new keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.tests.lab_fixtures import new_cloud

pytestmark = pytest.mark.ansible


def test_merge_passwords_keeps_existing_secrets_and_generates_the_new_keys(tmp_path: Path) -> None:
    cloud = new_cloud(tmp_path)
    record = cloud.root / "passwords.json"
    record.write_text(json.dumps({"database_password": "kept", "valkey_master_password": "also-kept"}))

    result, _ = cloud.run(
        "ferry-merge-passwords.yml",
        extra={
            "ferry_new_passwords": ["valkey_master_password", "prometheus_haproxy_password", "given"],
            # A key the cloud's passwords already hold keeps that value.
            "given": "from-the-cloud",
        },
    )

    assert result.status == "successful", result
    merged = json.loads(record.read_text())
    assert merged["database_password"] == "kept"
    assert merged["valkey_master_password"] == "also-kept"
    assert merged["given"] == "from-the-cloud"
    assert len(merged["prometheus_haproxy_password"]) == 40
    assert record.stat().st_mode & 0o777 == 0o600


def test_a_migration_is_recorded_once_in_the_lab(tmp_path: Path) -> None:
    cloud = new_cloud(tmp_path)
    record = cloud.root / "migrations.json"
    record.write_text(json.dumps(["rabbitmq-quorum-queues"]))

    result, _ = cloud.run("ferry-migrate.yml", extra={"ferry_migration": "redis-to-valkey"})

    assert result.status == "successful", result
    assert json.loads(record.read_text()) == ["rabbitmq-quorum-queues", "redis-to-valkey"]
