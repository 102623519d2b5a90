"""Import, render and list a cloud of 5,000 hosts in 50 nova cells.

    python -m bench.inventory_scale [--hosts 5000] [--cells 50] [--runs 5]

Runs against DATABASE_URL (SQLite under var/ when unset) in a scratch
database. Targets: import and render each under 2 s on the 2-core machine; the runner's own
parse, render and cell grouping (no database) each under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import machine, scratch_database, summary, timed


def write_inventory(root: Path, hosts: int, cells: int) -> Path:
    """A kolla-style cells inventory: 3 API controllers, 2 network nodes, cells of 1 conductor + computes."""
    per_cell = hosts // cells
    lines = [
        "[control]",
        *(f"ctl{i:02d} ansible_host=10.0.0.{i}" for i in range(1, 4)),
        "[network]",
        "net01",
        "net02",
        "[monitoring]",
        "ctl01",
        "[storage]",
        "ctl02",
        "[deployment]",
        "localhost ansible_connection=local",
        "[compute:children]",
    ]
    lines += [f"cell{c:02d}-compute" for c in range(cells)]
    group_vars = root / "group_vars"
    group_vars.mkdir(parents=True)
    for c in range(cells):
        name = f"cell{c:02d}"
        lines += [f"[{name}-control]", f"{name}-cond ansible_host=10.{c + 1}.0.1", f"[{name}-compute]"]
        lines += [
            f"{name}-cmp{i:03d} ansible_host=10.{c + 1}.{i // 250}.{i % 250 + 2}" for i in range(per_cell - 1)
        ]
        lines += [f"[{name}:children]", f"{name}-control", f"{name}-compute"]
        (group_vars / name).write_text(
            f"nova_cell_name: {name}\nnova_cell_compute_group: {name}-compute\n"
            f"nova_cell_conductor_group: {name}-control\nnova_cell_novncproxy_group: {name}-control\n"
            f"nova_novncproxy_port: {6080 + c}\n"
        )
    for service, parent in [
        ("nova-compute", "compute"),
        ("nova-libvirt", "compute"),
        ("nova-api", "control"),
        ("neutron-openvswitch-agent", "compute"),
        ("neutron-server", "control"),
    ]:
        lines += [f"[{service}:children]", parent]
    (root / "inventory").write_text("\n".join(lines) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with scratch_database() as database, tempfile.TemporaryDirectory() as tmp:
        from django.test import Client

        from apps.clouds import services
        from apps.clouds.models import Host
        from runner.inventory import parse_inventory, render_inventory
        from tests.factories import UserFactory

        path = write_inventory(Path(tmp) / "src", args.hosts, args.cells)
        cloud = services.create_cloud(None, slug="scale", release="2025.1")
        parse_times = timed(lambda: parse_inventory(path), args.runs)
        parsed = parse_inventory(path)
        runner_render_times = timed(lambda: render_inventory(parsed, Path(tmp) / "runner-out"), args.runs)
        cells_times = timed(parsed.cells, args.runs)
        assert len(parsed.cells()) == args.cells
        import_times = timed(lambda: services.import_inventory_path(None, cloud, path), args.runs)
        count = Host.objects.filter(cloud=cloud).count()
        render_times = timed(lambda: services.render_cloud_inventory(cloud, Path(tmp) / "out"), args.runs)

        user = UserFactory(username="bench-viewer", role="viewer")
        client = Client()
        client.force_login(user)
        pages = []
        for _ in range(args.runs):
            started = time.perf_counter()
            url, n = "/api/hosts/?cloud=scale&limit=1000", 0
            while url:
                body = client.get(url).json()
                n += len(body["results"])
                url = body["next"]
            pages.append(time.perf_counter() - started)
        assert n == count

        print(f"machine: {machine()}; database: {database}")
        print(f"inventory: {count} hosts in {args.cells} cells")
        print(f"parse : {summary(parse_times)}")
        print(f"import: {summary(import_times)}  (parse + validate + replace rows, one transaction)")
        print(f"render: {summary(render_times)}")
        print(f"runner render: {summary(runner_render_times)}  (render_inventory, no database)")
        print(f"runner cells : {summary(cells_times)}  (Inventory.cells())")
        print(f"list  : {summary(pages)}  (all hosts through /api/hosts/ in pages of 1000)")
        ok = statistics.median(import_times) < 2 and statistics.median(render_times) < 2
        print("target (import and render each < 2 s):", "met" if ok else "NOT met")
        quick = max(map(statistics.median, (parse_times, runner_render_times, cells_times))) < 0.5
        print("target (parse, runner render and cells each < 0.5 s):", "met" if quick else "NOT met")


if __name__ == "__main__":
    main()
