"""The plan preview: the same JSON from the API and the CLI, a stable hash, commands, estimates."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.clouds import services as cloud_services
from apps.jobs import services
from apps.jobs.models import Job, Step, StepState
from apps.jobs.preview import plan_preview

pytestmark = pytest.mark.django_db

KEYS = {"cloud", "kind", "params", "from", "to", "hops", "steps", "hash", "estimated_seconds", "warnings"}
STEP_KEYS = {"name", "action", "playbook", "limit", "tags", "extra_vars", "command", "gate"}


def test_the_api_shows_the_plan_with_commands_and_creates_nothing(api_as, viewer, demo_cloud):
    response = api_as(viewer).get("/api/clouds/demo/plan/?kind=ffu&target_release=2026.1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == KEYS and all(set(s) == STEP_KEYS for s in body["steps"])
    assert body["from"] == "2025.1" and body["to"] == "2026.1"
    assert body["hops"] == [{"from": "2025.1", "to": "2026.1"}]
    commands = [s["command"] for s in body["steps"]]
    assert "kolla-ansible upgrade -i /etc/kolla/multinode -e openstack_release=2026.1" in commands
    assert any(c.startswith("kolla-ansible mariadb-backup -i /etc/kolla/multinode --full") for c in commands)
    assert any("ansible-playbook" in c and "ferry-backup-fetch.yml" in c for c in commands)
    assert not Job.objects.exists()


def test_an_unplannable_request_is_a_400_naming_the_field(api_as, viewer, demo_cloud):
    api = api_as(viewer)
    assert "target_release" in api.get("/api/clouds/demo/plan/?kind=upgrade&target_release=2024.1").json()
    assert "kind" in api.get("/api/clouds/demo/plan/?kind=explode").json()
    assert "surprise" in api.get("/api/clouds/demo/plan/?kind=check&surprise=1").json()


def test_outsiders_cannot_see_a_plan(api_as, outsider, demo_cloud):
    assert api_as(outsider).get("/api/clouds/demo/plan/?kind=check").status_code == 404


def test_the_same_cloud_state_gives_the_same_hash_and_a_change_gives_another(demo_cloud):
    first = plan_preview(demo_cloud, "upgrade", {"target_release": "2025.2"})
    assert plan_preview(demo_cloud, "upgrade", {"target_release": "2025.2"})["hash"] == first["hash"]
    cloud_services.update_cloud(None, demo_cloud, globals_yml=demo_cloud.globals_yml + "enable_heat: 'no'\n")
    assert plan_preview(demo_cloud, "upgrade", {"target_release": "2025.2"})["hash"] != first["hash"]


def test_stop_shows_kollas_confirmation_flag(demo_cloud):
    (stop,) = plan_preview(demo_cloud, "stop", {})["steps"]
    assert stop["command"].startswith(
        "kolla-ansible stop -i /etc/kolla/multinode --yes-i-really-really-mean-it"
    )


def test_the_estimate_is_the_median_of_past_runs_and_none_without_history(demo_cloud, operator, no_worker):
    assert plan_preview(demo_cloud, "check", {})["estimated_seconds"] is None
    for seconds in (10, 30, 20):
        job = services.launch_job(operator, demo_cloud, "check", params={}, confirmed=True)
        start = timezone.now()
        Step.objects.filter(job=job).update(
            state=StepState.SUCCEEDED, started_at=start, finished_at=start + timedelta(seconds=seconds)
        )
    assert plan_preview(demo_cloud, "check", {})["estimated_seconds"] == 20


def ran_for(job, seconds: float) -> None:
    """Mark ``job``'s steps as succeeded after ``seconds`` each."""
    start = timezone.now()
    Step.objects.filter(job=job).update(
        state=StepState.SUCCEEDED, started_at=start, finished_at=start + timedelta(seconds=seconds)
    )


def test_without_history_here_the_estimate_is_another_clouds_median_scaled_by_host_count(
    demo_cloud, operator, no_worker, tmp_path
):
    other = cloud_services.create_cloud(None, slug="other", release="2025.1")
    (tmp_path / "inventory").write_text(
        "[control]\nctl01\n[network]\nctl01\n[monitoring]\nctl01\n[storage]\nctl01\n[compute]\ncmp01\ncmp02\n"
    )
    cloud_services.import_inventory_path(None, other, tmp_path / "inventory")
    small, large = other.hosts.count(), demo_cloud.hosts.count()
    assert (small, large) == (3, 14)
    for seconds in (10, 30, 20):
        ran_for(services.launch_job(operator, other, "check", params={}), seconds)
    # The median of the other cloud's runs (20 s on 3 hosts), for demo's 14 hosts.
    assert plan_preview(demo_cloud, "check", {})["estimated_seconds"] == round(20 * 14 / 3, 1) == 93.3
    assert plan_preview(other, "check", {})["estimated_seconds"] == 20
    # A step without history anywhere leaves the whole estimate unknown.
    assert plan_preview(demo_cloud, "prechecks", {})["estimated_seconds"] is None
    # Once the cloud has runs of its own, they count and the other cloud's do not.
    ran_for(services.launch_job(operator, demo_cloud, "check", params={}), 7)
    assert plan_preview(demo_cloud, "check", {})["estimated_seconds"] == 7


def test_the_cli_prints_the_same_json_and_exits_2_naming_the_field(demo_cloud):
    out = StringIO()
    call_command(
        "plan", "--cloud", "demo", "--operation", "upgrade", "--to", "2025.2", "--format", "json", stdout=out
    )
    assert json.loads(out.getvalue()) == plan_preview(demo_cloud, "upgrade", {"target_release": "2025.2"})
    text = StringIO()
    call_command("plan", "--cloud", "demo", "--operation", "upgrade", "--to", "2025.2", stdout=text)
    assert "2025.1 → 2025.2" in text.getvalue() and "kolla-ansible upgrade" in text.getvalue()
    with pytest.raises(CommandError) as refused:
        call_command("plan", "--cloud", "demo", "--operation", "upgrade", "--to", "2024.1")
    assert refused.value.returncode == 2 and "target_release:" in str(refused.value)


def test_a_restore_preview_names_the_backup_and_shows_each_restore_command(viewer, api_as, demo_cloud):
    from datetime import UTC, datetime

    from apps.backups.models import Backup

    full = Backup.objects.create(
        cloud=demo_cloud,
        kind="full",
        taken_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        node="control01",
        name="mysqlbackup-01-12-2026-1.qp.xbc.xbs.gz",
        sha256="a" * 64,
        store_path="/srv/ferry/backups/demo/000001",
        state="verified",
    )
    increment = Backup.objects.create(
        cloud=demo_cloud,
        kind="incremental",
        parent=full,
        taken_at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC),
        node="control01",
        name="incremental-11-mysqlbackup-01-12-2026-2.qp.xbc.xbs.gz",
        sha256="b" * 64,
        state="verified",
    )
    body = api_as(viewer).get(f"/api/clouds/demo/plan/?kind=restore&backup={increment.pk}").json()
    names = [s["name"] for s in body["steps"]]
    title = f"backup #{increment.pk} (incremental on #{full.pk}, 2026-12-01 11:00 UTC)"
    assert names == [
        f"Put {title} on control01",
        "Stop MariaDB on every database host",
        f"Restore {title}: prepare and copy back",
        "Recover the MariaDB cluster from control01",
        "Check services",
    ]
    commands = [s["command"] for s in body["steps"]]
    assert commands[0].startswith("ansible-playbook -i /etc/kolla/multinode -e @/etc/kolla/globals.yml -e ")
    assert commands[0].endswith("-e ferry_restore_node=control01 runner/playbooks/ferry-backup-push.yml")
    assert commands[1].startswith("kolla-ansible stop -i /etc/kolla/multinode --yes-i-really-really-mean-it")
    assert commands[2].endswith("runner/playbooks/ferry-mariadb-restore.yml")
    recovery = "kolla-ansible mariadb-recovery -i /etc/kolla/multinode"
    assert commands[3] == f"{recovery} -e mariadb_recover_inventory_name=control01"
    chain = body["steps"][0]["extra_vars"]["ferry_restore_chain"]
    assert [(b["id"], b["sha256"]) for b in chain] == [(full.pk, "a" * 64), (increment.pk, "b" * 64)]
