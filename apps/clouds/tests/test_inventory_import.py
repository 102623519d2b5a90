"""Importing kolla-ansible inventories into the models, all or nothing."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEntry
from apps.clouds import services
from apps.clouds.inventory_stats import hosts_per_group
from apps.clouds.models import Cell, Cloud, Host

pytestmark = pytest.mark.django_db


def test_demo_inventory_lands_with_cells_and_groups(demo_cloud):
    assert demo_cloud.hosts.count() == 3 + 1 + 1 + 4 + 1 + 3 + 1  # + localhost (deployment)
    cells = {c.name: c for c in demo_cloud.cells.all()}
    assert set(cells) == {"cell1", "cell2"}
    assert cells["cell1"].database_name == "nova_cell1"
    assert cells["cell2"].console_ports["nova_novncproxy_port"] == "6090"
    assert set(cells["cell1"].hosts.values_list("name", flat=True)) == {
        "c1ctl01",
        "c1cmp01",
        "c1cmp02",
        "c1cmp03",
        "c1cmp04",
    }
    assert Host.objects.get(cloud=demo_cloud, name="ctl01").cell is None
    assert Host.objects.get(cloud=demo_cloud, name="ctl02").address == "10.0.0.12"
    counts = hosts_per_group(demo_cloud)
    assert counts["compute"] == 7 and counts["nova-compute"] == 7 and counts["nova-conductor"] == 2
    assert AuditEntry.objects.filter(action="cloud.import_inventory", cloud_slug="demo").exists()


def _write(tmp_path: Path, text: str, group_vars: dict[str, str] | None = None) -> Path:
    (tmp_path / "inventory").write_text(text)
    for name, body in (group_vars or {}).items():
        (tmp_path / "group_vars").mkdir(exist_ok=True)
        (tmp_path / "group_vars" / name).write_text(body)
    return tmp_path


CELL = "nova_cell_name: {n}\nnova_cell_compute_group: {n}-compute\nnova_cell_conductor_group: {n}-control\n"


@pytest.mark.parametrize(
    ("text", "group_vars", "fragment"),
    [
        ("[control]\nctl01\n[compute\ncmp01\n", {}, "line 3"),
        (
            "[control]\nctl01\n[a-compute]\ncmp01\n[a-control]\nx1\n[a:children]\na-compute\na-control\n"
            "[b-compute]\ncmp01\n[b-control]\nx2\n[b:children]\nb-compute\nb-control\n",
            {"a": CELL.format(n="a"), "b": CELL.format(n="b")},
            "cmp01",
        ),
        (
            "[control]\nctl01\n[a-compute]\n[a-control]\nx1\n[a:children]\na-compute\na-control\n",
            {"a": CELL.format(n="a")},
            "a",
        ),
    ],
    ids=["syntax-error", "host-in-two-cells", "cell-without-computes"],
)
def test_bad_inventory_is_refused_and_changes_nothing(demo_cloud, tmp_path, text, group_vars, fragment):
    before = set(demo_cloud.hosts.values_list("name", flat=True))
    with pytest.raises(ValidationError) as refused:
        services.import_inventory_path(None, demo_cloud, _write(tmp_path, text, group_vars))
    message = " ".join(refused.value.message_dict["inventory"])
    assert fragment in message
    assert set(demo_cloud.hosts.values_list("name", flat=True)) == before
    assert Cell.objects.filter(cloud=demo_cloud).count() == 2


def test_unknown_release_is_refused_and_changes_nothing(demo_cloud, tmp_path):
    with pytest.raises(ValidationError, match=r"unknown release series '1999\.1'"):
        services.import_inventory_path(
            None, demo_cloud, _write(tmp_path, "[control]\nnew01\n"), release="1999.1"
        )
    assert demo_cloud.hosts.filter(name="new01").count() == 0


def test_reimport_replaces_hosts(demo_cloud, tmp_path):
    services.import_inventory_path(
        None, demo_cloud, _write(tmp_path, "[control]\nsolo ansible_host=10.9.9.9\n")
    )
    assert list(demo_cloud.hosts.values_list("name", "address")) == [("solo", "10.9.9.9")]
    assert not demo_cloud.cells.exists()


def test_management_commands_import_and_render(catalog, tmp_path):
    from apps.clouds.demo import DEMO_INVENTORY

    call_command(
        "import_kolla_inventory",
        str(DEMO_INVENTORY),
        "--cloud",
        "west",
        "--release",
        "2025.1",
        "--globals",
        str(DEMO_INVENTORY / "globals.yml"),
    )
    cloud = Cloud.objects.get(slug="west")
    assert cloud.release.series == "2025.1" and "enable_cells" in cloud.globals_yml
    call_command("render_inventory", "--cloud", "west", "--out", str(tmp_path / "out"))
    rendered = (tmp_path / "out" / "inventory").read_text()
    assert "c1cmp04" in rendered
    assert (tmp_path / "out" / "group_vars").is_dir()


def test_import_command_refuses_with_a_clear_message(db, tmp_path):
    bad = _write(tmp_path, "[control\n")
    with pytest.raises(CommandError, match="line 1"):
        call_command("import_kolla_inventory", str(bad), "--cloud", "west")
    assert not Cloud.objects.filter(slug="west").exists()
