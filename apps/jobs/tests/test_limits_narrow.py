"""A job's limit narrows each step's own limit (Ansible's `a,&b`); it never widens it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from apps.clouds.services import render_cloud_inventory
from apps.jobs import services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def rollout(operator, cloud, limit: str) -> dict[str, str]:
    job = services.launch_job(
        operator,
        cloud,
        "cell-rollout",
        params={"target_release": "2025.2", "canary": "cell1"},
        limit=limit,
        confirmed=True,
    )
    return dict(job.steps.values_list("name", "limit"))


def test_a_canary_step_stays_in_its_cell_whatever_the_job_limit_names(operator, demo_cloud, no_worker):
    limits = rollout(operator, demo_cloud, "c1cmp01,c2cmp01")
    assert limits["Upgrade canary cell cell1"] == "c1cmp01,c2cmp01,&cell1"
    assert limits["Upgrade cell cell2"] == "c1cmp01,c2cmp01,&cell2"
    assert limits["Pull 2025.2 images"] == "c1cmp01,c2cmp01"


def test_a_limit_that_leaves_a_step_without_hosts_is_refused(operator, demo_cloud, no_worker):
    with pytest.raises(ValidationError) as refused:
        rollout(operator, demo_cloud, "c1cmp01")
    assert "leaves no host of cell2" in refused.value.message_dict["limit"][0]
    assert not Job.objects.exists()


@pytest.mark.ansible
def test_ansible_selects_exactly_the_intersection(operator, demo_cloud, no_worker, tmp_path: Path):
    limits = rollout(operator, demo_cloud, "c1cmp01,c1cmp02,c2cmp01")
    inventory = render_cloud_inventory(demo_cloud, tmp_path / "inventory")
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "all",
            "-i",
            str(inventory),
            "--limit",
            limits["Upgrade canary cell cell1"],
            "--list-hosts",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_LOCALHOST_WARNING": "0", "HOME": str(tmp_path)},
    )
    hosts = sorted(line.strip() for line in listed.stdout.splitlines()[1:] if line.strip())
    assert hosts == ["c1cmp01", "c1cmp02"], json.dumps(listed.stdout)
