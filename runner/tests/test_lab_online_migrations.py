"""nova's online data migrations between the hops of a fast-forward upgrade, on the lab, run for real:
nova upgraded to 2025.2 without them, the 2026.1 hop's validation and its nova db sync stop, naming
each database, until they have run."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.tests.lab_fixtures import Collector, LabCloud

pytestmark = pytest.mark.ansible

NEXT, AFTER = "2025.2", "2026.1"
NOVA_DATABASES = ("nova_api", "nova_cell0", "nova_cell1")
VALIDATE_AFTER = {"openstack_release": AFTER, "ferry_validate_compute_releases": [NEXT, AFTER]}
ONLINE = "nova-online-data-migrations"


@pytest.fixture(scope="module")
def skipped_online_migrations(
    deployed_lab_template: tuple[LabCloud, Collector], tmp_path_factory: pytest.TempPathFactory
) -> LabCloud:
    """The deployed 2025.1 cloud with nova upgraded to 2025.2 by ``--tags nova --skip-tags
    nova-online-data-migrations`` (once per module). Read it, never change it."""
    cloud = deployed_lab_template[0].copy_to(tmp_path_factory.mktemp("skipped-online-migrations"))
    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": NEXT}, tags="nova", skip_tags=ONLINE
    )
    assert result.status == "successful", events.failure_messages()
    return cloud


@pytest.fixture
def cloud(skipped_online_migrations: LabCloud, tmp_path: Path) -> LabCloud:
    """A private copy of ``skipped_online_migrations``."""
    return skipped_online_migrations.copy_to(tmp_path)


def messages(events: Collector) -> str:
    return " ".join(m for host_messages in events.failure_messages().values() for m in host_messages)


def nova_online_migrations(cloud: LabCloud) -> dict[str, str]:
    migrations = cloud.state("ctl1")["mariadb"]["online_migrations"]
    return {name: migrations[name] for name in NOVA_DATABASES}


def test_the_next_hops_validation_names_each_nova_database_whose_online_migrations_did_not_run(
    cloud: LabCloud,
) -> None:
    schemas = cloud.state("ctl1")["mariadb"]["databases"]
    assert {name: schemas[name] for name in NOVA_DATABASES} == dict.fromkeys(NOVA_DATABASES, NEXT)
    assert nova_online_migrations(cloud) == dict.fromkeys(NOVA_DATABASES, "2025.1")

    result, events = cloud.run("ferry-validate.yml", extra=VALIDATE_AFTER)

    assert result.status == "failed"
    assert result.hosts_with("failures") == ["ctl1"]
    found = messages(events)
    assert (
        "Online data migrations: the online data migrations of 2025.2 have not run on "
        "nova_api, nova_cell0, nova_cell1: run nova-manage db online_data_migrations for 2025.2"
    ) in found
    assert "kolla-ansible upgrade --tags nova-online-data-migrations" in found
    assert "2026.1's nova-manage db sync refuses until then" in found

    # Validated for the release it is at, the cloud only warns: nothing stops before the next hop.
    result, events = cloud.run("ferry-validate.yml", extra={"openstack_release": NEXT})
    assert result.status == "successful", events.failure_messages()
    warned = [
        e["event_data"]["res"]
        for e in events.of("runner_on_ok", "ctl1")
        if e["event_data"]["task"].startswith("Running nova-status upgrade check")
    ]
    warning = warned[0]["ferry_warnings"][0]
    assert "warns: Online data migrations: the online data migrations of 2025.2" in warning


def test_the_next_hops_nova_db_sync_refuses_naming_each_database_and_changes_no_schema(
    cloud: LabCloud,
) -> None:
    before = cloud.state("ctl1")["mariadb"]

    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": AFTER}, tags="nova-bootstrap"
    )
    assert result.status == "failed"
    found = messages(events)
    assert (
        "nova-manage db sync to 2026.1 refuses: the online data migrations of 2025.2 have not run on "
        "nova_api, nova_cell0: run nova-manage db online_data_migrations for 2025.2"
    ) in found

    # A cell's database is held back by its own sync, in the cell stage.
    result, events = cloud.run(
        "site.yml",
        action="upgrade",
        extra={"openstack_release": AFTER},
        tags="nova-cell-upgrade",
        limit="ctl1",
    )
    assert result.status == "failed"
    assert "have not run on nova_cell1: run nova-manage db online_data_migrations" in messages(events)
    assert cloud.state("ctl1")["containers"]["nova-cell-conductor"]["release"] == NEXT

    after = cloud.state("ctl1")["mariadb"]
    assert after["databases"] == before["databases"]
    assert after["sha256"] == before["sha256"]


def test_once_the_online_migrations_ran_the_validation_and_the_db_sync_of_the_next_hop_pass(
    cloud: LabCloud,
) -> None:
    result, events = cloud.run("site.yml", action="upgrade", extra={"openstack_release": NEXT}, tags=ONLINE)
    assert result.status == "successful", events.failure_messages()
    assert nova_online_migrations(cloud) == dict.fromkeys(NOVA_DATABASES, NEXT)

    result, events = cloud.run("ferry-validate.yml", extra=VALIDATE_AFTER)
    assert result.status == "successful", events.failure_messages()

    result, events = cloud.run(
        "site.yml", action="upgrade", extra={"openstack_release": AFTER}, tags="nova-bootstrap"
    )
    assert result.status == "successful", events.failure_messages()
    schemas = cloud.state("ctl1")["mariadb"]["databases"]
    assert (schemas["nova_api"], schemas["nova_cell0"], schemas["nova_cell1"]) == (AFTER, AFTER, NEXT)
