"""The release each cell and host runs: recorded for the hosts a step's limit selects, shown on the
cloud's pages and in the API."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.clouds.models import Host
from apps.clouds.running import limit_hosts, record_running_release

pytestmark = pytest.mark.django_db


def cells(cloud) -> dict[str, str | None]:
    return dict(cloud.cells.values_list("name", "release__series"))


def hosts_at(cloud, series: str) -> set[str]:
    return set(Host.objects.filter(cloud=cloud, release__series=series).values_list("name", flat=True))


def test_a_limit_selects_hosts_as_ansible_does(demo_cloud):
    cell2 = {"c2ctl01", "c2cmp01", "c2cmp02", "c2cmp03"}
    assert limit_hosts(demo_cloud, "cell2") == cell2  # a cell by its name, through its group
    assert limit_hosts(demo_cloud, "c1cmp01,c2cmp01,&cell2") == {"c2cmp01"}
    assert limit_hosts(demo_cloud, "control,!ctl02") == {"ctl01", "ctl03"}
    assert limit_hosts(demo_cloud, "") == set(demo_cloud.hosts.values_list("name", flat=True))


def test_a_cell_step_moves_that_cell_and_its_hosts_only(operator, demo_cloud):
    record_running_release(operator, demo_cloud, "2025.2", limit="cell2", job_id=7)
    assert cells(demo_cloud) == {"cell1": None, "cell2": "2025.2"}
    assert hosts_at(demo_cloud, "2025.2") == {"c2ctl01", "c2cmp01", "c2cmp02", "c2cmp03"}
    entry = AuditEntry.objects.get(action="cloud.running_release")
    assert entry.detail == {"release": "2025.2", "hosts": 4, "cells": ["cell2"], "job": 7}


def test_a_cell_whose_hosts_differ_runs_no_one_release(operator, demo_cloud):
    record_running_release(operator, demo_cloud, "2025.1")
    assert set(cells(demo_cloud).values()) == {"2025.1"}
    record_running_release(operator, demo_cloud, "2025.2", limit="c2cmp01,&cell2")
    assert cells(demo_cloud) == {"cell1": "2025.1", "cell2": None}
    record_running_release(operator, demo_cloud, "2025.2", limit="cell2")
    assert cells(demo_cloud) == {"cell1": "2025.1", "cell2": "2025.2"}


def test_the_pages_and_the_api_show_what_each_cell_and_host_runs(
    operator, viewer, demo_cloud, client_as, api_as
):
    record_running_release(operator, demo_cloud, "2025.2", limit="cell2")
    page = client_as(viewer).get("/clouds/demo/").content.decode()
    assert "runs <strong>2025.2</strong>" in page and "(the cloud: 2025.1)" in page
    assert "release not recorded" in page  # cell1: no job has moved it yet
    hosts = client_as(viewer).get("/clouds/demo/hosts/", {"cell": "cell2"}).content.decode()
    assert "<td>2025.2</td>" in hosts
    api = api_as(viewer)
    by_cell = {c["name"]: c["release"] for c in api.get("/api/cells/", {"cloud": "demo"}).json()["results"]}
    assert by_cell == {"cell1": None, "cell2": "2025.2"}
    listed = api.get("/api/hosts/", {"cloud": "demo", "cell": "cell2"}).json()["results"]
    assert {h["release"] for h in listed} == {"2025.2"}


def test_the_schema_says_a_cell_or_host_may_run_no_recorded_release(api_as, viewer, demo_cloud):
    schema = api_as(viewer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for name in ("Cell", "Host"):
        release = schema["components"]["schemas"][name]["properties"]["release"]
        assert release["nullable"] is True and release["readOnly"] is True
