"""Properties of plans over every release pair of the catalog and every cell layout of 1 to 4 cells.

Pure planning, no Ansible: each example plans in well under a millisecond.
"""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.catalog.catalog_data import RELEASES as CATALOG
from runner.planner import PlannedStep, PlanRequest, ReleaseInfo, legal_hops, plan, plan_hash

RELEASES = [ReleaseInfo(series, slurp) for series, slurp in CATALOG]
ORDER = [r.series for r in RELEASES]
# Actions that change what runs on the hosts; pull, prechecks, checks and backups do not.
CHANGING = {"upgrade", "deploy", "reconfigure", "stop", "post-deploy", "mariadb-recovery", "destroy"}
CELL_NAMES = ["cell1", "cell2", "cell3", "cell4", "edge", "az-b"]
EXAMPLES = settings(max_examples=60, deadline=None)


@st.composite
def release_pairs(draw) -> tuple[str, str]:
    """Any current release and any newer one of the catalog."""
    start = draw(st.integers(0, len(ORDER) - 2))
    end = draw(st.integers(start + 1, len(ORDER) - 1))
    return ORDER[start], ORDER[end]


@st.composite
def one_hop(draw) -> tuple[str, str]:
    """A current release and one target a single legal hop away."""
    current = draw(st.sampled_from(ORDER[:-1]))
    return current, draw(st.sampled_from(legal_hops(RELEASES, current)))


@st.composite
def cell_layouts(draw) -> tuple[list[str], str | None]:
    """1 to 4 cells, and a canary: none (the first cell), or any of them."""
    cells = draw(st.lists(st.sampled_from(CELL_NAMES), min_size=1, max_size=4, unique=True))
    return cells, draw(st.none() | st.sampled_from(cells))


def request(kind: str, current: str, cells: list[str] | None = None, **params) -> PlanRequest:
    cells = cells or ["cell1"]
    return PlanRequest(
        kind=kind,
        releases=RELEASES,
        current_release=current,
        cells=cells,
        cell_groups={c: f"nova_{c}" for c in cells},
        params={k: v for k, v in params.items() if v is not None},
        mariabackup=True,
    )


def hop_releases(steps: list[PlannedStep]) -> list[str]:
    return [s.completes_release for s in steps if s.completes_release]


def assert_backup_before_change(steps: list[PlannedStep]) -> None:
    """Every hop's backup is taken before the hop's first step that changes anything, and the plan
    opens with the validations, before the backup."""
    assert steps[0].action == "ferry-validate" and "mariadb-backup" not in CHANGING
    first_change = next(i for i, s in enumerate(steps) if s.action in CHANGING)
    assert any(s.action == "mariadb-backup" for s in steps[:first_change])
    for target in hop_releases(steps):
        backup = next(
            i for i, s in enumerate(steps) if s.user_vars.get("ferry_backup_label") == f"before-{target}"
        )
        change = next(
            i
            for i, s in enumerate(steps)
            if s.action in CHANGING and s.extra_vars.get("openstack_release") == target
        )
        assert backup < change
        validation = next(
            i
            for i, s in enumerate(steps)
            if s.action == "ferry-validate" and s.extra_vars["openstack_release"] == target
        )
        assert validation < backup


@EXAMPLES
@given(release_pairs(), st.booleans())
def test_a_fast_forward_upgrade_is_a_chain_of_legal_hops_with_a_backup_first(pair, pause):
    current, target = pair
    steps = plan(request("ffu", current, target_release=target, pause_between_hops=pause or None))
    hops = hop_releases(steps)
    assert hops[-1] == target
    for here, there in zip([current, *hops], hops, strict=False):
        assert there in legal_hops(RELEASES, here)
        assert ORDER.index(there) > ORDER.index(here)
    assert_backup_before_change(steps)
    gates = [i for i, s in enumerate(steps) if s.gate]
    if not pause:
        assert gates == []
        return
    # One gate between each two hops: the last step of every hop but the last.
    assert len(gates) == len(hops) - 1
    for i in gates:
        assert steps[i + 1].extra_vars.get("openstack_release") != steps[i].extra_vars.get(
            "openstack_release"
        )
        assert steps[i + 1].action == "ferry-validate"


@EXAMPLES
@given(one_hop(), cell_layouts())
def test_a_cell_rollout_upgrades_the_canary_first_then_waits_then_every_cell_once(hop, layout):
    current, target = hop
    cells, canary = layout
    steps = plan(request("cell-rollout", current, cells, target_release=target, canary=canary))
    assert hop_releases(steps) == [target]
    assert_backup_before_change(steps)
    cell_steps = [s for s in steps if s.tags == "nova-cell-upgrade"]
    # The default cell (no group of its own, on the controllers) follows every named cell.
    assert cell_steps[-1].limit == "" and cell_steps[-1].name.endswith("(the default cell)")
    cell_steps = cell_steps[:-1]
    assert sorted(s.limit for s in cell_steps) == sorted(f"nova_{c}" for c in cells)  # each cell once
    assert cell_steps[0].limit == f"nova_{canary or cells[0]}"
    gates = [s for s in steps if s.gate]
    assert gates == [cell_steps[0]]
    assert steps.index(cell_steps[0]) + 1 < len(steps)  # something follows the gate to wait for


@EXAMPLES
@given(one_hop(), cell_layouts())
def test_a_cell_rollout_moves_nova_between_its_dependencies_and_the_rest_and_completes_last(hop, layout):
    current, target = hop
    cells, canary = layout
    steps = plan(request("cell-rollout", current, cells, target_release=target, canary=canary))
    upgrades = [s for s in steps if s.action == "upgrade"]
    assert all(s.extra_vars["openstack_release"] == target for s in upgrades)
    nova = [i for i, s in enumerate(upgrades) if s.tags.startswith("nova")]
    # What nova depends on before every nova stage, the rest after the last one.
    assert nova == list(range(1, len(upgrades) - 1))
    assert {"keystone", "placement", "neutron", "loadbalancer"} <= set(upgrades[0].tags.split(","))
    assert "horizon" in upgrades[-1].tags.split(",")
    # The release is reached by the last step, the final check, and by no other.
    assert [i for i, s in enumerate(steps) if s.completes_release] == [len(steps) - 1]
    assert steps[-1].action == "check"


@EXAMPLES
@given(release_pairs(), cell_layouts(), st.booleans())
def test_the_same_input_gives_the_same_plan_and_hash(pair, layout, pause):
    current, target = pair
    cells, _ = layout
    first = plan(request("ffu", current, cells, target_release=target, pause_between_hops=pause or None))
    second = plan(
        request("ffu", current, list(cells), target_release=target, pause_between_hops=pause or None)
    )
    rendered = [asdict(s) for s in first]
    assert rendered == [asdict(s) for s in second]
    assert plan_hash(rendered, "rev-1") == plan_hash([asdict(s) for s in second], "rev-1")
    assert plan_hash(rendered, "rev-1") != plan_hash(rendered, "rev-2")
