"""The lab's side of a hop's preparation: a migration is recorded, nothing moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.tests.lab_fixtures import new_cloud

pytestmark = pytest.mark.ansible


def test_a_migration_is_recorded_once_in_the_lab(tmp_path: Path) -> None:
    cloud = new_cloud(tmp_path)
    record = cloud.root / "migrations.json"
    record.write_text(json.dumps(["rabbitmq-quorum-queues"]))

    result, _ = cloud.run("ferry-migrate.yml", extra={"ferry_migration": "redis-to-valkey"})

    assert result.status == "successful", result
    assert json.loads(record.read_text()) == ["rabbitmq-quorum-queues", "redis-to-valkey"]
