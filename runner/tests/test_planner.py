"""The planner: legal hops, fast-forward paths, staged cell rollouts, refusals that name the field."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runner.hops import HOPS
from runner.kolla import cli_command
from runner.lab import PLAYBOOK_DIR as LAB_PLAYBOOKS
from runner.params import BackupInfo, ansible_bool
from runner.planner import (
    KINDS,
    ROLLOUT_AFTER_NOVA,
    ROLLOUT_BEFORE_NOVA,
    STEP_NAME_CHARS,
    PlanError,
    PlanRequest,
    ReleaseInfo,
    cell_upgrade_release,
    fitted,
    legal_hops,
    plan,
    plan_warnings,
    restore_steps,
    upgrade_path,
)
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
    # 2025.2 → 2026.1 asks for no passwords or migrations (runner/hops.py).
    steps = plan(request("upgrade", current="2025.2", target_release="2026.1"))
    assert [s.action for s in steps] == [
        "ferry-validate",
        "pull",
        "prechecks",
        "mariadb-backup",
        "ferry-backup-fetch",
        "upgrade",
        "post-deploy",
        "validate-config",
        "check",
    ]
    upgrade = steps[5]
    assert upgrade.playbook == "site.yml" and upgrade.action == "upgrade"
    assert upgrade.extra_vars["openstack_release"] == "2026.1" and upgrade.completes_release == "2026.1"


def test_ffu_is_a_chain_of_full_upgrades():
    steps = plan(request("ffu", current="2024.1", target_release="2026.1"))
    assert [s.completes_release for s in steps if s.completes_release] == ["2025.1", "2026.1"]
    # Nine steps a hop; 2025.1's preparation (its passwords, its queue migration) and 2026.1's
    # (valkey_master_password, as this SLURP hop skips Flamingo's Valkey).
    assert len(steps) == 21
    # Each hop validates for its own release before it pulls anything.
    validations = [s for s in steps if s.action == "ferry-validate"]
    assert [s.extra_vars["openstack_release"] for s in validations] == ["2025.1", "2026.1"]
    assert validations[1].extra_vars["ferry_validate_compute_releases"] == ["2025.1", "2025.2", "2026.1"]


def test_cell_rollout_goes_canary_first_then_the_other_cells():
    steps = plan(request("cell-rollout", target_release="2025.2", canary="cell2"))
    tagged = [(s.tags, s.limit) for s in steps if s.tags]
    assert tagged == [
        (",".join(ROLLOUT_BEFORE_NOVA), ""),
        ("nova-bootstrap", ""),
        ("nova-api-upgrade", ""),
        ("nova-cell-upgrade", "cell2"),
        ("nova-cell-upgrade", "cell1"),
        ("nova-cell-upgrade", ""),
        ("nova-reload,nova-online-data-migrations", ""),
        (",".join(ROLLOUT_AFTER_NOVA), ""),
    ]


def test_cell_rollout_upgrades_what_nova_depends_on_first_and_the_rest_after_nova():
    steps = plan(request("cell-rollout", target_release="2025.2"))
    assert [s.action for s in steps] == [
        "ferry-validate",
        "ferry-merge-passwords",  # 2025.2's valkey_master_password
        "pull",
        "prechecks",
        "mariadb-backup",
        "ferry-backup-fetch",
        *["upgrade"] * 8,
        "post-deploy",
        "check",
    ]
    before = steps[6].tags.split(",")
    for service in ("loadbalancer", "mariadb", "rabbitmq", "keystone", "glance", "placement", "neutron"):
        assert service in before
    assert not any(tag.startswith("nova") for tag in before)
    assert {"horizon", "grafana", "prometheus"} <= set(steps[-3].tags.split(","))


def test_only_the_final_check_of_a_cell_rollout_completes_the_release():
    steps = plan(request("cell-rollout", target_release="2025.2"))
    completing = [s for s in steps if s.completes_release]
    assert completing == [steps[-1]]
    assert steps[-1].action == "check" and steps[-1].completes_release == "2025.2"


@pytest.mark.parametrize("value", [True, "yes", "True", "on"])
def test_a_cell_rollout_is_refused_while_nova_safety_upgrade_is_on(value):
    on = replace(request("cell-rollout", target_release="2025.2"), nova_safety_upgrade=ansible_bool(value))
    with pytest.raises(PlanError) as refused:
        plan(on)
    assert refused.value.field == "nova_safety_upgrade" and "globals.yml" in refused.value.message
    # An ordinary upgrade stops nova as the setting asks: it is not refused.
    assert plan(replace(request("upgrade", target_release="2025.2"), nova_safety_upgrade=True))


def test_the_cell_upgrade_release_is_read_from_a_cell_step_only():
    steps = plan(request("cell-rollout", target_release="2025.2"))
    moved = [cell_upgrade_release(s.action, s.tags, s.limit, s.extra_vars) for s in steps]
    assert [s.limit for s, release in zip(steps, moved, strict=True) if release] == ["cell1", "cell2"]
    assert set(moved) == {"", "2025.2"}


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def assert_a_rollout_upgrades_every_role(site: Path) -> None:
    planned = set(ROLLOUT_BEFORE_NOVA) | set(ROLLOUT_AFTER_NOVA)
    for role_tags in _role_tag_sets(site):
        if any(tag.startswith("nova") for tag in role_tags):
            continue
        assert role_tags & planned, f"no rollout step upgrades the role tagged {sorted(role_tags)}"


def _role_tag_sets(site: Path) -> list[set[str]]:
    found = []
    for play in yaml.safe_load(site.read_text()):
        tags = set(_as_list(play.get("tags"))) - {"always"}
        if "import_playbook" in play:
            imported = site.parent / play["import_playbook"]
            if not tags and imported.exists() and imported.name in ("mariadb.yml", "rabbitmq.yml"):
                found += _role_tag_sets(imported)
            elif tags:
                found.append(tags)
            continue
        for role in play.get("roles", []):
            role_tags = tags | set(_as_list(role.get("tags") if isinstance(role, dict) else None))
            name = role.get("role") if isinstance(role, dict) else role
            if name != "prechecks" and role_tags:
                found.append(role_tags)
    return found


def test_a_cell_rollout_upgrades_every_role_of_the_lab():
    assert_a_rollout_upgrades_every_role(LAB_PLAYBOOKS / "site.yml")


@pytest.mark.ansible
def test_a_cell_rollout_upgrades_every_role_of_kolla_ansible(kolla_install):
    assert_a_rollout_upgrades_every_role(kolla_install.playbooks_dir / "site.yml")


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


def info(id: int, kind: str, state: str = "verified", release: str = "2025.2", **more) -> BackupInfo:
    return BackupInfo(
        id,
        kind,
        state,
        f"mysqlbackup-{id}-{kind}",
        release=release,
        taken_at=f"2026-12-{id:02d} 10:00 UTC",
        sha256=f"{id:064x}",
        node="ctl01",
        store_path=f"/var/ferry/backups/demo/{id:06d}",
        **more,
    )


def backups_request(kind: str, current: str = "2025.2", **params) -> PlanRequest:
    backups = [
        info(
            1,
            "full",
            release="2025.1",
            label="before-2025.2",
            job_kind="upgrade",
            taken=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        ),
        info(2, "incremental", parent_id=1),
        info(3, "full", "failed"),
        info(4, "incremental", parent_id=3),
        info(5, "full", job_kind="upgrade"),
        info(6, "incremental", parent_id=5),
        info(7, "incremental", parent_id=5),
        info(8, "incremental", "failed", parent_id=5),
        info(9, "incremental", parent_id=5),
        info(10, "full", release="2025.1", job_kind="backup"),
        info(11, "full", release="2025.1"),
    ]
    return PlanRequest(kind, RELEASES, current, params=params, backups=backups, mariabackup=True)


def test_restore_puts_the_backup_back_stops_mariadb_restores_recovers_and_checks():
    steps = plan(backups_request("restore", backup=5))
    assert [(s.action, s.tags) for s in steps] == [
        ("ferry-backup-push", ""),
        ("stop", "mariadb"),
        ("ferry-mariadb-restore", ""),
        ("mariadb-recovery", ""),
        ("check", ""),
    ]
    assert steps[0].name == "Put backup #5 (full, 2026-12-05 10:00 UTC) on ctl01"
    assert steps[2].name == "Restore backup #5 (full, 2026-12-05 10:00 UTC): prepare and copy back"
    assert steps[3].name == "Recover the MariaDB cluster from ctl01"
    chain = [
        {
            "id": 5,
            "kind": "full",
            "name": "mysqlbackup-5-full",
            "sha256": f"{5:064x}",
            "store": "/var/ferry/backups/demo/000005",
        }
    ]
    for each in (steps[0], steps[2]):
        # Names and paths are data: Ansible gets them unsafe, never as templates.
        assert each.user_vars == {"ferry_restore_chain": chain, "ferry_restore_node": "ctl01"}
        assert each.playbook == f"{each.action}.yml" and not each.extra_vars
    assert steps[3].user_vars == {"mariadb_recover_inventory_name": "ctl01"}
    assert steps[1].extra_vars["openstack_release"] == steps[4].extra_vars["openstack_release"] == "2025.2"


def test_an_incremental_restore_applies_its_full_parent_then_each_increment_in_order():
    steps = plan(backups_request("restore", backup=7))
    assert steps[0].name == "Put backup #7 (incremental on #5, 2026-12-07 10:00 UTC) on ctl01"
    assert [b["id"] for b in steps[0].user_vars["ferry_restore_chain"]] == [5, 6, 7]
    assert steps[2].user_vars == steps[0].user_vars


def test_restore_steps_need_the_backups_chain_and_node():
    with pytest.raises(PlanError, match="without its full backup"):
        restore_steps(info(7, "incremental", parent_id=5), "2025.2")
    with pytest.raises(PlanError, match="which database node"):
        restore_steps(replace(info(5, "full"), node=""), "2025.2")


def test_restore_needs_a_deployed_cloud():
    with pytest.raises(PlanError) as refused:
        plan(backups_request("restore", current=None, backup=5))
    assert refused.value.field == "release"


@pytest.mark.parametrize(
    ("backup", "why"),
    [
        (99, "no backup #99 of this cloud"),
        (3, "failed, not verified"),
        (4, "no verified full backup"),
        (9, "needs backup #8, which is failed"),
        ("mysqlbackup-5-full", "id of one of this cloud's backups"),
    ],
)
def test_restore_refuses_what_cannot_be_restored(backup, why):
    with pytest.raises(PlanError) as refused:
        plan(backups_request("restore", backup=backup))
    assert refused.value.field == "backup" and why in refused.value.message


def test_rollback_goes_back_without_stopping_the_data_plane():
    steps = plan(backups_request("rollback", backup=1))
    assert [(s.action, s.tags) for s in steps] == [
        ("stop", ""),
        ("ferry-backup-push", ""),
        ("stop", "mariadb"),
        ("ferry-mariadb-restore", ""),
        ("mariadb-recovery", ""),
        ("rabbitmq-reset-state", ""),
        ("stop", "rabbitmq"),
        ("deploy", ""),
        ("check", ""),
    ]
    stop = steps[0]
    kept_running = set(stop.extra_vars["skip_stop_containers"])
    assert {
        "nova_libvirt",
        "nova_compute",
        "openvswitch_vswitchd",
        "neutron_l3_agent",
        "rabbitmq",
    } <= kept_running
    assert "the data plane keeps running" in stop.name
    deploy = steps[7]
    assert deploy.completes_release == "2025.1" and deploy.extra_vars["openstack_release"] == "2025.1"
    assert deploy.extra_vars["nova_libvirt_tag"].startswith("2025.2-{{ kolla_base_distro }}")
    assert deploy.extra_vars["openvswitch_tag"] == deploy.extra_vars["nova_libvirt_tag"]
    assert "kolla refuses an older libvirt" in deploy.name
    assert "messages in flight are lost" in steps[5].name and "rabbitmq-version-check" in steps[6].name
    assert "backup #1" in steps[1].name


def test_rollback_command_lines_are_kollas():
    steps = plan(backups_request("rollback", backup=1))
    stop = cli_command(steps[0].action, extra_vars=steps[0].extra_vars)
    assert stop.startswith("kolla-ansible stop -i /etc/kolla/multinode --yes-i-really-really-mean-it -e ")
    assert '"skip_stop_containers": ["nova_libvirt"' in stop
    assert cli_command(steps[5].action, extra_vars=steps[5].extra_vars) == (
        "kolla-ansible rabbitmq-reset-state -i /etc/kolla/multinode -e openstack_release=2025.2"
    )
    assert cli_command(steps[6].action, extra_vars=steps[6].extra_vars, tags=steps[6].tags).endswith(
        "--tags rabbitmq"
    )
    deploy = cli_command(steps[7].action, extra_vars=steps[7].extra_vars)
    assert deploy.startswith("kolla-ansible deploy -i /etc/kolla/multinode -e openstack_release=2025.1 -e ")
    assert "nova_libvirt_tag" in deploy and "openvswitch_tag" in deploy


@pytest.mark.parametrize(
    ("backup", "why"),
    [
        (5, "roll back to a backup taken before an upgrade"),
        (10, "taken by a backup job"),
        (11, "taken by no job Ferry ran"),
    ],
)
def test_rollback_takes_only_a_pre_upgrade_backup_of_an_older_release(backup, why):
    with pytest.raises(PlanError) as refused:
        plan(backups_request("rollback", backup=backup))
    assert refused.value.field == "backup" and why in refused.value.message


def test_restore_and_rollback_warn_of_what_is_lost_since_the_backup():
    request = backups_request("rollback", backup=1)
    now = datetime(2026, 12, 1, 13, 12, 30, tzinfo=UTC)
    warnings = plan_warnings(request, {"backup": 1}, now)
    assert "since 2026-12-01 10:00 UTC (3 h 12 min)" in warnings[0]
    assert "nova_libvirt_tag" in warnings[-1]
    assert plan_warnings(backups_request("restore", backup=5), {"backup": 5}, now)[0].startswith("Loses")
    assert plan_warnings(request, {"backup": 1}, now + timedelta(days=2))[0].count("2 d 3 h 12 min") == 1
    assert plan_warnings(backups_request("upgrade"), {}, now) == []


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


@pytest.mark.parametrize(("status", "words"), [("development", "in development"), ("eol", "end of life")])
def test_targeting_an_unreleased_or_dead_release_needs_an_acknowledgement(status, words):
    releases = [replace(r, status=status) if r.series == "2025.2" else r for r in RELEASES]
    refused = replace(request("upgrade", target_release="2025.2"), releases=releases)
    with pytest.raises(PlanError) as error:
        plan(refused)
    assert error.value.field == "target_release"
    assert f"2025.2 is {words}: set acknowledge_release_status" in error.value.message
    acknowledged = replace(refused, params={**refused.params, "acknowledge_release_status": "yes"})
    assert plan(acknowledged)[-1].name == "Check services on 2025.2"


def test_hops_through_old_releases_need_no_acknowledgement():
    releases = [replace(r, status="eol") if r.series < "2025.1" else r for r in RELEASES]
    steps = plan(replace(request("ffu", current="2023.1", target_release="2025.1"), releases=releases))
    assert any(s.name == "Upgrade to 2024.1" for s in steps)


def test_acknowledgement_is_a_flag():
    with pytest.raises(PlanError) as error:
        plan(request("upgrade", target_release="2025.2", acknowledge_release_status="perhaps"))
    assert error.value.field == "acknowledge_release_status" and "true or false" in error.value.message


def test_rollback_puts_back_the_archived_configuration_before_it_redeploys():
    request = backups_request("rollback", backup=1)
    archived = replace(
        request, backups=[replace(b, includes_config=True) if b.id == 1 else b for b in request.backups]
    )
    steps = plan(archived)
    actions = [s.action for s in steps]
    assert actions.index("ferry-restore-config") == actions.index("deploy") - 1
    config = steps[actions.index("ferry-restore-config")]
    assert config.extra_vars == {"ferry_backup_id": 1} and config.playbook == ""
    assert "globals.yml, passwords.yml, configuration files" in config.name
    assert "ferry-restore-config" not in [s.action for s in plan(request)]
    now = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert any("holds no configuration archive" in w for w in plan_warnings(request, {"backup": 1}, now))
    assert not any("configuration archive" in w for w in plan_warnings(archived, {"backup": 1}, now))


def test_cell_rollout_validates_before_it_pulls_or_backs_up():
    steps = plan(request("cell-rollout", target_release="2025.2", canary="cell2"))
    assert [s.action for s in steps[:4]] == ["ferry-validate", "ferry-merge-passwords", "pull", "prechecks"]
    assert steps[0].extra_vars["openstack_release"] == "2025.2"


def test_validate_is_read_only_and_checks_for_the_current_release_or_the_next_hop():
    assert not KINDS["validate"].mutating and KINDS["archive"].mutating
    (own,) = plan(request("validate"))
    assert own.action == "ferry-validate" and own.playbook == "ferry-validate.yml"
    assert own.extra_vars == {
        "openstack_release": "2025.1",
        # Computes may lag one legal hop: N-1, or the SLURP before a SLURP.
        "ferry_validate_compute_releases": ["2024.1", "2024.2", "2025.1"],
        "ferry_validate_soft_deleted_threshold": 1000,
        "ferry_validate_min_free_gb": 20,
        "ferry_validate_cert_warn_days": 30,
    }
    (ahead,) = plan(request("validate", target_release="2025.2", min_free_gb=50, soft_deleted_threshold=10))
    assert ahead.extra_vars["ferry_validate_compute_releases"] == ["2025.1", "2025.2"]
    assert ahead.extra_vars["ferry_validate_min_free_gb"] == 50
    assert ahead.extra_vars["ferry_validate_soft_deleted_threshold"] == 10
    with pytest.raises(PlanError) as refused:
        plan(request("validate", target_release="2026.2"))
    assert (
        refused.value.field == "target_release"
        and "next upgrade hop (2025.2 or 2026.1)" in refused.value.message
    )
    with pytest.raises(PlanError) as refused:
        plan(request("validate", current=None))
    assert refused.value.field == "release"


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("upgrade", {"target_release": "2025.2"}),
        ("ffu", {"target_release": "2026.1", "current": "2024.1"}),
        ("cell-rollout", {"target_release": "2025.2"}),
    ],
)
def test_upgrade_kinds_take_the_validations_thresholds(kind: str, params: dict) -> None:
    """Every upgrade opens with the validations, so it takes their thresholds as validate does."""
    steps = plan(request(kind, **params, min_free_gb=5, soft_deleted_threshold=50_000, cert_warn_days=7))
    validations = [s for s in steps if s.action == "ferry-validate"]
    assert validations
    for validation in validations:
        assert validation.extra_vars["ferry_validate_min_free_gb"] == 5
        assert validation.extra_vars["ferry_validate_soft_deleted_threshold"] == 50_000
        assert validation.extra_vars["ferry_validate_cert_warn_days"] == 7
    (default,) = [s for s in plan(request(kind, **params)) if s.action == "ferry-validate"][:1]
    assert default.extra_vars["ferry_validate_min_free_gb"] == 20
    with pytest.raises(PlanError) as refused:
        plan(request(kind, **params, min_free_gb=-1))
    assert refused.value.field == "min_free_gb"


def test_archive_runs_nova_manage_archive_deleted_rows_and_purges_only_when_asked():
    (archive,) = plan(request("archive"))
    assert (
        archive.action == "ferry-archive-deleted-rows" and archive.extra_vars["ferry_archive_purge"] is False
    )
    assert "nova-manage db archive_deleted_rows --until-complete --all-cells)" in archive.name
    (purged,) = plan(request("archive", purge=True))
    assert purged.extra_vars["ferry_archive_purge"] is True and "--purge" in purged.name


# A hop's preparation (runner/hops.py): steps for what kolla's release notes require, refusals for
# globals the target no longer reads.


def test_every_hop_entry_is_a_legal_hop_installing_the_targets_kolla_ansible():
    from apps.catalog.catalog_data import RELEASES as CATALOG
    from runner.hops import HOPS, MIGRATIONS, ON_CURRENT_RELEASE
    from runner.kolla import KOLLA_MAJOR_BY_SERIES

    releases = [ReleaseInfo(series, slurp) for series, slurp in CATALOG]
    for (here, there), prep in HOPS.items():
        assert there in legal_hops(releases, here), (here, there)
        assert prep.kolla_ansible == KOLLA_MAJOR_BY_SERIES[there]
        assert set(prep.migrations) <= set(MIGRATIONS)
        assert all(key.startswith("enable_") for key in prep.removed_services)
    assert set(MIGRATIONS) >= ON_CURRENT_RELEASE


def test_a_slurp_hop_needs_what_the_release_it_skips_asked_for():
    from runner.hops import HOPS

    for (here, there), skip in HOPS.items():
        between = [b for (a, b) in HOPS if a == here and (b, there) in HOPS]
        for middle in between:
            first, second = HOPS[here, middle], HOPS[middle, there]
            assert set(skip.new_passwords) >= {*first.new_passwords, *second.new_passwords}
            assert set(skip.removed_globals) >= {*first.removed_globals, *second.removed_globals}
            assert set(skip.removed_services) >= {*first.removed_services, *second.removed_services}


def test_upgrade_to_2025_1_merges_passwords_then_migrates_after_the_backup_and_before_prechecks():
    steps = plan(request("upgrade", current="2024.1", target_release="2025.1"))
    actions = [s.action for s in steps]
    assert actions[:3] == ["ferry-validate", "ferry-merge-passwords", "pull"]
    merge = steps[1]
    assert merge.extra_vars["ferry_new_passwords"] == [
        "prometheus_haproxy_password",
        "valkey_master_password",
    ]
    assert "keep every existing secret" in merge.name and "prometheus_haproxy_password" in merge.name
    # Ferry merges the passwords it stores itself: no playbook, on either backend.
    assert merge.playbook == ""
    backup = actions.index("ferry-backup-fetch")
    # Every queue durable for RabbitMQ 4, on 2024.1 whose kolla-ansible reads the queue options;
    # Redis stays: Valkey replaces it at 2025.2.
    (migration,) = [s for s in steps if s.action == "ferry-migrate"]
    assert migration.extra_vars == {
        "openstack_release": "2024.1",
        "ferry_migration": "rabbitmq-durable-queues",
    }
    assert "om_enable_queue_manager" in migration.name and migration.name.endswith("before 2025.1")
    # The target's prechecks refuse queues that are not durable: they run once the queues moved,
    # and the backup holds the cloud from before the migration changed it.
    assert backup < actions.index("ferry-migrate") < actions.index("prechecks") < actions.index("upgrade")


def test_a_hop_without_migrations_backs_up_after_its_prechecks():
    actions = [s.action for s in plan(request("upgrade", current="2025.1", target_release="2025.2"))]
    assert actions.index("pull") < actions.index("prechecks") < actions.index("mariadb-backup")
    assert "ferry-migrate" not in actions


@pytest.mark.parametrize("target", ["2025.2", "2026.1"])
def test_the_hop_that_brings_valkey_merges_its_password_and_leaves_the_move_to_kolla(target):
    steps = plan(request("upgrade", current="2025.1", target_release=target))
    (merge,) = [s for s in steps if s.action == "ferry-merge-passwords"]
    assert merge.extra_vars["ferry_new_passwords"] == ["valkey_master_password"]
    assert merge.extra_vars["openstack_release"] == target
    assert not [s for s in steps if s.action == "ferry-migrate"]


def test_redis_stays_until_2025_2():
    cloud = {"enable_redis": "yes"}
    steps = plan(replace(request("upgrade", current="2024.2", target_release="2025.1"), globals=cloud))
    assert steps[-1].action == "check"


def test_the_rabbitmq_migrations_of_the_skip_to_2024_1_run_on_the_release_the_cloud_leaves():
    steps = plan(request("upgrade", current="2023.1", target_release="2024.1"))
    quorum, intermediate = [s for s in steps if s.action == "ferry-migrate"]
    assert quorum.extra_vars == {"openstack_release": "2023.1", "ferry_migration": "rabbitmq-quorum-queues"}
    assert intermediate.extra_vars == {"openstack_release": "2023.1", "ferry_migration": "rabbitmq-3.12-3.13"}
    assert "3.12" in intermediate.name and "3.13" in intermediate.name
    # Bobcat's and Caracal's new keys, which 2023.1's passwords.yml lacks.
    (merge,) = [s for s in steps if s.action == "ferry-merge-passwords"]
    assert {"haproxy_ssh_key", "prometheus_password", "prometheus_skyline_password"} <= set(
        merge.extra_vars["ferry_new_passwords"]
    )


def test_a_hop_without_requirements_adds_no_steps_and_installs_only_for_kolla_ansible():
    lab = plan(request("upgrade", current="2025.2", target_release="2026.1"))
    assert not [s for s in lab if s.action.startswith(("ferry-merge", "ferry-migrate", "ferry-kolla"))]
    kolla = plan(request("upgrade", current="2025.2", target_release="2026.1", backend="kolla-ansible"))
    assert kolla[1].action == "ferry-kolla-install" and kolla[1].name == "Install kolla-ansible 22 for 2026.1"
    assert kolla[1].extra_vars["ferry_kolla_ansible_major"] == 22


@pytest.mark.parametrize(
    ("kind", "current", "target", "cloud_globals", "named"),
    [
        ("upgrade", "2024.1", "2025.1", {"enable_swift": "yes"}, ["enable_swift", "2025.1"]),
        ("upgrade", "2025.1", "2025.2", {"enable_venus": True}, ["enable_venus", "2025.2"]),
        (
            "upgrade",
            "2025.2",
            "2026.1",
            {"enable_zun": "yes", "enable_kuryr": "yes"},
            ["enable_zun, enable_kuryr"],
        ),
        ("ffu", "2024.1", "2026.1", {"enable_venus": "yes"}, ["enable_venus", "2026.1"]),
        ("upgrade", "2025.1", "2025.2", {"enable_redis": "yes"}, ["renames enable_redis to enable_valkey"]),
        ("ffu", "2024.1", "2026.1", {"enable_redis": "no"}, ["2026.1 renames enable_redis to enable_valkey"]),
        ("upgrade", "2025.1", "2025.2", {"enable_ironic_inspector": "yes"}, ["enable_ironic_inspector"]),
        ("upgrade", "2025.2", "2026.1", {"enable_influxdb": "yes"}, ["enable_influxdb", "2026.1"]),
        ("upgrade", "2025.2", "2026.1", {"keystone_wsgi_provider": "apache"}, ["keystone_wsgi_provider"]),
        (
            "upgrade",
            "2024.2",
            "2025.1",
            {"letsencrypt_cert_server": "https://acme"},
            ["renames letsencrypt_cert_server to letsencrypt_external_cert_server"],
        ),
        ("upgrade", "2024.1", "2025.1", {"enable_prometheus_msteams": "yes"}, ["enable_prometheus_msteams"]),
        ("upgrade", "2023.1", "2024.1", {"enable_murano": "yes"}, ["enable_murano", "2024.1"]),
        ("upgrade", "2023.1", "2024.1", {"haproxy_processes": 2}, ["renames haproxy_processes to haproxy_"]),
        (
            "cell-rollout",
            "2024.1",
            "2025.1",
            {"om_enable_rabbitmq_high_availability": False},
            ["om_enable_rabbitmq_high_availability"],
        ),
    ],
)
def test_globals_the_target_no_longer_reads_are_refused_naming_the_key(
    kind, current, target, cloud_globals, named
):
    with pytest.raises(PlanError) as refused:
        plan(replace(request(kind, current=current, target_release=target), globals=cloud_globals))
    assert refused.value.field == "globals_yml"
    for text in named:
        assert text in refused.value.message


def test_a_removed_service_left_off_is_not_refused():
    steps = plan(
        replace(request("upgrade", current="2024.1", target_release="2025.1"), globals={"enable_swift": "no"})
    )
    assert steps[-1].action == "check"


@pytest.mark.parametrize(("current", "target"), sorted(HOPS))
@pytest.mark.parametrize("kind", ["upgrade", "cell-rollout"])
def test_every_hops_step_names_fit_where_they_are_stored(kind: str, current: str, target: str) -> None:
    """A name longer than the jobs app's column stops the launch on PostgreSQL (SQLite would take it)."""
    steps = plan(request(kind, current=current, target_release=target))
    assert max(len(s.name) for s in steps) <= STEP_NAME_CHARS
    (merge,) = [s for s in steps if s.action == "ferry-merge-passwords"] or [None]
    if merge and len(HOPS[current, target].new_passwords) > 3:
        # What does not fit is counted; the step's parameters list every key.
        assert merge.extra_vars["ferry_new_passwords"] == list(HOPS[current, target].new_passwords)


def test_fitted_names_what_fits_and_counts_the_rest() -> None:
    names = [f"key_{n:02d}_" + "x" * 20 for n in range(10)]
    text = fitted("Generate ", names, limit=100)
    assert len(text) <= 100 and text.startswith("Generate key_00_") and text.endswith("more")
    shown = text.count("key_")
    assert text.endswith(f" and {10 - shown} more")
    assert fitted("Generate ", names[:2], limit=100) == f"Generate {names[0]}, {names[1]}"
