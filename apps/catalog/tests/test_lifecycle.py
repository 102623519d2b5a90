"""Release statuses computed from their dates, kept current from openstack/releases' file."""

import datetime
import io
import textwrap

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEntry
from apps.catalog.models import Release, release_infos
from apps.catalog.series_status import SeriesStatusError, load_series_status, parse_series_status

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def today(monkeypatch):
    """Pin the server's date: statuses are computed for it."""

    def pin(day: datetime.date) -> None:
        monkeypatch.setattr("apps.catalog.models.today", lambda: day)

    return pin


def test_status_follows_the_dates_not_the_word_recorded_once(today):
    epoxy, dalmatian = Release.objects.get(series="2025.1"), Release.objects.get(series="2024.2")
    today(D(2026, 12, 2))
    assert (epoxy.status, epoxy.current_status) == ("maintained", "unmaintained")  # from 2026-10-02
    assert dalmatian.current_status == "eol"  # since 2026-04-29
    today(D(2026, 10, 1))
    assert epoxy.current_status == "maintained" and epoxy.next_change == ("unmaintained", D(2026, 10, 2))


def test_future_release_enters_development_on_its_date(today):
    indri = Release.objects.get(series="2027.1")
    today(D(2026, 9, 1))
    assert indri.current_status == "future"
    today(D(2026, 12, 3))
    assert indri.current_status == "development" and not indri.is_supported


def test_planner_sees_todays_status(today):
    today(D(2026, 12, 3))
    statuses = {r.series: r.status for r in release_infos()}
    assert statuses["2024.2"] == "eol" and statuses["2026.2"] == "maintained"
    assert statuses["2027.1"] == "development"


def test_release_page_and_api_show_dates_kolla_spelling_and_host_os(client_as, api_as, viewer, today):
    today(D(2026, 12, 3))
    page = client_as(viewer).get("/catalog/releases/2022.2/").content.decode()
    assert 'openstack_release: "zed"' in page and "2022-10-05" in page and "Rocky 9" in page
    listing = client_as(viewer).get("/catalog/releases/").content.decode()
    assert "unmaintained on 2027-10-27" in listing  # 2026.1's next change
    body = api_as(viewer).get("/api/releases/2025.1/").json()
    assert body["current_status"] == "unmaintained" and body["status"] == "maintained"
    assert body["next_status_on"] == "2026-10-02" and body["openstack_release"] == "2025.1"
    assert body["host_os"]["Rocky"] == ["9", "10"] and body["default_base_distro"] == "rocky"
    old = api_as(viewer).get("/api/releases/2016.1/").json()
    assert old["kolla_ansible_major"] is None and old["host_os"] is None


SERIES_STATUS = textwrap.dedent(
    """\
    ---
    - name: juniper
      release-id: 2027.2
      status: future
      initial-release: 2027-10-06
    - name: gazpacho
      release-id: 2026.1
      status: maintained
      slurp: yes
      initial-release: 2026-04-01
      next-phase:
        status: unmaintained
        date: 2027-11-03
    - name: epoxy
      release-id: 2025.1
      status: unmaintained
      slurp: yes
      initial-release: 2025-04-02
      next-phase:
        status: end of life
    - name: zed
      status: end of life
      initial-release: 2022-10-05
      eol-date: 2026-11-20
    """
)


def test_load_series_status_updates_dates_reports_unknown_and_audits(admin_user):
    report = load_series_status(admin_user, SERIES_STATUS)
    assert report.unknown == ["2027.2"]  # a new series needs its kolla facts: not created
    assert set(report.changed) == {"2026.1", "2025.1", "2022.2"}
    gazpacho = Release.objects.get(series="2026.1")
    assert gazpacho.next_status_on == D(2027, 11, 3)
    zed = Release.objects.get(series="2022.2")  # matched by name
    assert (zed.status, zed.eol_on, zed.next_status) == ("eol", D(2026, 11, 20), "")
    epoxy = Release.objects.get(series="2025.1")
    assert (epoxy.status, epoxy.next_status, epoxy.next_status_on) == ("unmaintained", "eol", None)
    entry = AuditEntry.objects.get(action="release.lifecycle_loaded", object_repr__startswith="2026.1")
    assert entry.detail == {
        "before": {"next_status_on": "2027-10-27"},
        "after": {"next_status_on": "2027-11-03"},
    }
    assert load_series_status(admin_user, SERIES_STATUS).changed == {}  # loading again changes nothing


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{a: 1}", "must be a list"),
        ("- status: maintained\n", "entry 1: each series needs a name"),
        ("- name: zed\n  status: abandoned\n", "zed: status 'abandoned' is not a phase"),
        ("- name: zed\n  status: maintained\n  eol-date: soon\n", "zed: eol-date 'soon' is not a date"),
        ("- name: zed\n  status: maintained\n  next-phase: [1]\n", "zed: next-phase must be a mapping"),
        ("- [unclosed\n", "not a YAML file"),
    ],
)
def test_a_file_in_another_format_is_refused_naming_the_entry(text, words):
    with pytest.raises(SeriesStatusError, match=words):
        parse_series_status(text)


def test_a_bad_entry_changes_nothing(admin_user):
    before = list(Release.objects.values_list("series", "status", "next_status_on"))
    with pytest.raises(SeriesStatusError):
        load_series_status(admin_user, SERIES_STATUS + "- name: bobcat\n  status: retired\n")
    assert list(Release.objects.values_list("series", "status", "next_status_on")) == before


def test_command_dry_run_changes_nothing_and_errors_exit_non_zero(tmp_path):
    path = tmp_path / "series_status.yaml"
    path.write_text(SERIES_STATUS)
    out = io.StringIO()
    call_command("load_series_status", str(path), "--dry-run", stdout=out)
    assert "2026.1: would change next_status_on 2027-10-27 → 2027-11-03" in out.getvalue()
    assert "not in the catalog (2027.2)" in out.getvalue()
    assert Release.objects.get(series="2026.1").next_status_on == D(2027, 10, 27)
    call_command("load_series_status", str(path), stdout=io.StringIO())
    assert Release.objects.get(series="2026.1").next_status_on == D(2027, 11, 3)
    path.write_text("- name: zed\n  status: abandoned\n")
    with pytest.raises(CommandError, match="abandoned"):
        call_command("load_series_status", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_series_status", str(tmp_path / "missing.yaml"))
