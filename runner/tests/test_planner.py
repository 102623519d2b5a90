"""The planner: legal hops, fast-forward paths, staged cell rollouts, refusals that name the field."""

from dataclasses import replace
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.params import BackupInfo
from runner.planner import PlanError, PlanRequest, ReleaseInfo, legal_hops, plan, upgrade_path
from runner.tests.plan_fixtures import plan_request

SERIES = ["2023.1", "2023.2", "2024.1", "2024.2", "2025.1", "2025.2", "2026.1", "2026.2", "2027.1"]
RELEASES = [ReleaseInfo(s, s.endswith(".1")) for s in SERIES]


request = partial(plan_request, releases=RELEASES)


def test_legal_hops_are_next_release_or_next_slurp():
    assert legal_hops(RELEASES, "2025.1") == ["2025.2", "2026.1"]
    assert legal_hops(RELEASES, "2025.2") == ["2026.1"]


def test_fast_forward_takes_slurp_skips():
    assert upgrade_path(RELEASES, "2023.1", "2026.1") == ["2024.1", "2025.1", "2026.1"]
    assert upgrade_path(RELEASES, "2023.2", "2025.2") == ["2024.1", "2025.1", "2025.2"]


@given(st.integers(0, len(SERIES) - 2), st.data())
def test_every_fast_forward_hop_is_legal_and_reaches_the_target(start, data):
    end = data.draw(st.integers(start + 1, len(SERIES) - 1))
    path = upgrade_path(RELEASES, SERIES[start], SERIES[end])
    here = SERIES[start]
    for hop in path:
        assert hop in legal_hops(RELEASES, here)
        here = hop
    assert here == SERIES[end]


def test_downgrade_is_refused_with_the_reason():
    with pytest.raises(PlanError) as refused:
        plan(request("upgrade", target_release="2024.1"))
    assert refused.value.field == "target_release" and "downgrades do not exist" in refused.value.message


def test_upgrade_refuses_more_than_one_hop_and_points_to_ffu():
    with pytest.raises(PlanError, match=r"fast-forward upgrade through 2025\.1 → 2026\.1"):
        plan(request("upgrade", current="2024.2", target_release="2026.1"))


def test_upgrade_hop_follows_kollas_procedure():
    steps = plan(request("upgrade", target_release="2026.1"))
    assert [s.action for s in steps] == [
        "pull",
        "prechecks",
        "mariadb-backup",
        "ferry-backup-fetch",
        "upgrade",
        "post-deploy",
        "validate-config",
        "check",
    ]
    upgrade = steps[4]
    assert upgrade.playbook == "site.yml" and upgrade.action == "upgrade"
    assert upgrade.extra_vars["openstack_release"] == "2026.1" and upgrade.completes_release == "2026.1"


def test_ffu_is_a_chain_of_full_upgrades():
    steps = plan(request("ffu", current="2024.1", target_release="2026.1"))
    assert [s.completes_release for s in steps if s.completes_release] == ["2025.1", "2026.1"]
    assert len(steps) == 16


def test_cell_rollout_goes_canary_first_then_the_other_cells():
    steps = plan(request("cell-rollout", target_release="2025.2", canary="cell2"))
    tagged = [(s.tags, s.limit) for s in steps if s.tags]
    assert tagged == [
        ("nova-bootstrap", ""),
        ("nova-api-upgrade", ""),
        ("nova-cell-upgrade", "cell2"),
        ("nova-cell-upgrade", "cell1"),
        ("nova-reload,nova-online-data-migrations", ""),
    ]


def test_unknown_canary_is_refused():
    with pytest.raises(PlanError) as refused:
        plan(request("cell-rollout", target_release="2025.2", canary="cell9"))
    assert refused.value.field == "canary"


def test_backup_and_restore_steps():
    assert (
        plan(request("backup", backup_type="incremental"))[0].extra_vars["mariadb_backup_type"]
        == "incremental"
    )
    with pytest.raises(PlanError) as refused:
        plan(request("restore"))
    assert refused.value.field == "backup"


def test_deploy_of_an_undeployed_cloud_needs_a_release():
    with pytest.raises(PlanError) as refused:
        plan(request("deploy", current=None))
    assert refused.value.field == "release"
    steps = plan(request("deploy", current=None, release="2025.1"))
    assert steps[0].playbook == "kolla-host.yml" and steps[3].completes_release == "2025.1"


def backups_request(kind: str, current: str = "2025.2", **params) -> PlanRequest:
    backups = [
        BackupInfo(1, "full", "verified", "mysqlbackup-1-full", release="2025.1", label="before-2025.2"),
        BackupInfo(2, "incremental", "verified", "mysqlbackup-2-incremental", release="2025.2", parent_id=1),
        BackupInfo(3, "full", "failed", "mysqlbackup-3-full", release="2025.2"),
        BackupInfo(4, "incremental", "verified", "mysqlbackup-4-incremental", release="2025.2", parent_id=3),
        BackupInfo(5, "full", "verified", "mysqlbackup-5-full", release="2025.2"),
    ]
    return PlanRequest(kind, RELEASES, current, params=params, backups=backups, mariabackup=True)


def test_restore_takes_a_verified_backup_by_id_and_names_it():
    steps = plan(backups_request("restore", backup=5))
    recovery = next(s for s in steps if s.action == "mariadb-recovery")
    assert recovery.extra_vars["mariadb_backup_name"] == "mysqlbackup-5-full"
    assert "backup #5" in recovery.name


@pytest.mark.parametrize(
    ("backup", "why"),
    [
        (99, "no backup #99 of this cloud"),
        (3, "failed, not verified"),
        (4, "no verified full backup"),
        ("mysqlbackup-5-full", "id of one of this cloud's backups"),
    ],
)
def test_restore_refuses_what_cannot_be_restored(backup, why):
    with pytest.raises(PlanError) as refused:
        plan(backups_request("restore", backup=backup))
    assert refused.value.field == "backup" and why in refused.value.message


def test_rollback_goes_back_to_the_release_its_backup_was_taken_on():
    steps = plan(backups_request("rollback", backup=1))
    assert [s.action for s in steps] == ["stop", "mariadb-recovery", "deploy", "check"]
    assert steps[2].completes_release == "2025.1"


def test_rollback_refuses_a_backup_of_the_release_the_cloud_runs():
    with pytest.raises(PlanError, match="roll back to a backup taken before an upgrade"):
        plan(backups_request("rollback", backup=5))


@pytest.mark.parametrize("kind", ["backup", "upgrade", "ffu", "cell-rollout", "rollback"])
def test_kinds_that_need_a_backup_are_refused_without_enable_mariabackup(kind):
    params = {"backup": 1} if kind == "rollback" else {"target_release": "2026.1"}
    if kind == "backup":
        params = {}
    plannable = replace(backups_request(kind, **params), cells=["cell1"], cell_groups={"cell1": "cell1"})
    assert plan(plannable)
    with pytest.raises(PlanError) as refused:
        plan(replace(plannable, mariabackup=False))
    assert refused.value.field == "enable_mariabackup" and "does nothing" in refused.value.message


def test_read_only_kinds_do_not_need_mariabackup():
    assert plan(replace(request("prechecks"), mariabackup=False))
