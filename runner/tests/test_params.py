"""Job parameters are data: each kind declares its parameters, and every value is checked."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.params import NAME_RE, CloudFacts, Param, ParamError, clean_params
from runner.planner import KINDS, PlanError, ReleaseInfo, plan, plan_job
from runner.tests.plan_fixtures import plan_request

SERIES = ["2024.1", "2024.2", "2025.1", "2025.2", "2026.1"]
RELEASES = [ReleaseInfo(s, s.endswith(".1")) for s in SERIES]
TEMPLATE = "{{ lookup('pipe','id >/tmp/x; echo 1') }}"


# Parameters are checked against the cloud's hosts and, for lab_* ones, its backend.
request = partial(plan_request, releases=RELEASES, hosts=["ctl1", "cmp1"], backend="lab")


def refused(kind: str, **params) -> PlanError:
    with pytest.raises(PlanError) as caught:
        plan(request(kind, **params))
    return caught.value


def test_a_template_in_lab_slow_seconds_is_refused_by_name():
    error = refused("prechecks", lab_slow_seconds=TEMPLATE)
    assert error.field == "lab_slow_seconds" and "number" in error.message


def test_a_template_as_release_is_refused_against_the_catalog():
    error = refused("prechecks", release="{{ database_password | b64encode }}")
    assert error.field == "release" and "release series of the catalog" in error.message


def test_a_twenty_character_release_on_deploy_is_refused():
    error = refused("deploy", release="2025.1-" + "x" * 13)
    assert error.field == "release"


def test_a_bogus_release_is_refused():
    assert refused("deploy", release="bogus").field == "release"


def test_unknown_parameters_are_refused_and_the_allowed_ones_named():
    error = refused("prechecks", rm_rf="yes")
    assert error.field == "rm_rf" and "release" in error.message and "lab_fail" in error.message


def test_a_parameter_of_another_kind_is_refused():
    assert refused("prechecks", target_release="2025.2").field == "target_release"


def test_a_backup_path_is_not_a_backup_id():
    error = refused("restore", backup="../../../etc/passwd")
    assert error.field == "backup" and "id of one of this cloud's backups" in error.message


def test_a_label_with_a_template_is_refused():
    assert refused("backup", label="{{ 7 * 7 }}").field == "label"


def test_lab_knobs_name_hosts_and_actions_of_the_cloud():
    assert refused("deploy", lab_fail={"nohost": ["deploy"]}).field == "lab_fail"
    assert refused("deploy", lab_fail={"ctl1": ["deploy; rm -rf /"]}).field == "lab_fail"
    assert refused("deploy", lab_unreachable=["ctl1", "ghost"]).field == "lab_unreachable"
    params, _ = plan_job(request("deploy", lab_fail={"ctl1": ["deploy:nova-compute"]}, lab_slow_seconds="2"))
    assert params["lab_fail"] == {"ctl1": ["deploy:nova-compute"]} and params["lab_slow_seconds"] == 2


def test_lab_knobs_are_refused_on_the_kolla_ansible_backend():
    with pytest.raises(PlanError) as caught:
        plan(request("prechecks", backend="kolla-ansible", lab_slow_seconds=1))
    assert caught.value.field == "lab_slow_seconds" and "lab backend" in caught.value.message


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), -1, 3601, [1], {"a": 1}, "1e400"])
def test_numbers_must_be_finite_and_in_range(value):
    assert refused("prechecks", lab_slow_seconds=value).field == "lab_slow_seconds"


def test_params_must_be_an_object():
    with pytest.raises(PlanError) as caught:
        plan(replace(request("prechecks"), params=["x"]))
    assert caught.value.field == "params"


def test_defaults_are_filled_and_values_come_back_canonical():
    params, steps = plan_job(request("backup"))
    assert params["backup_type"] == "full" and params["label"] == "manual"
    assert steps[0].user_vars == {"ferry_backup_label": "manual"}
    assert "ferry_backup_label" not in steps[0].extra_vars


def test_a_persons_text_travels_as_user_vars_not_as_trusted_vars():
    _, steps = plan_job(request("backup", label="nightly"))
    assert [s.action for s in steps] == ["mariadb-backup", "ferry-backup-fetch"]
    assert all(s.user_vars == {"ferry_backup_label": "nightly"} for s in steps)
    assert not any("nightly" in str(s.extra_vars) for s in steps)


def test_every_kind_declares_its_parameters_and_what_it_refuses():
    for name, spec in KINDS.items():
        assert spec.name == name and spec.label and spec.refuses
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names)), name


def test_the_tables_flags_agree_with_what_each_kind_takes():
    """A kind's flags say what the code around it does with the kind: they must fit its parameters."""
    (default,) = [spec for spec in KINDS.values() if spec.default]
    assert not default.mutating
    for name, spec in KINDS.items():
        names = {p.name for p in spec.params}
        if spec.targets_release:
            assert names & {"release", "target_release"} and "acknowledge_release_status" in names, name
        if spec.restores_backup:
            assert "backup" in names and spec.mutating, name
        if spec.rolls_back:
            assert spec.restores_backup, name
        if spec.rollback_source:
            # Its backup is taken before it changes release, so it must move the release.
            assert spec.moves_release and spec.needs_mariabackup, name


@given(st.text(max_size=80))
def test_a_name_parameter_accepts_only_its_alphabet(text):
    param = Param("label", "name", "a label")
    try:
        cleaned = clean_params([param], {"label": text}, CloudFacts())
    except ParamError as error:
        assert error.field == "label"
    else:
        if text:
            assert NAME_RE.fullmatch(cleaned["label"]) and "{" not in cleaned["label"]
