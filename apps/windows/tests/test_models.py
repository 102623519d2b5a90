"""Validation of windows and freezes: each refusal names its field."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEntry
from apps.windows import services
from apps.windows.models import ChangeFreeze, MaintenanceWindow

pytestmark = pytest.mark.django_db


def add_window(actor, cloud, **kw):
    args = {"weekdays": [5], "start_time": time(1), "duration": timedelta(hours=4), "timezone_name": "UTC"}
    return services.create_window(actor, cloud, **{**args, **kw})


def refused_field(call) -> set[str]:
    with pytest.raises(ValidationError) as refused:
        call()
    return set(refused.value.message_dict)


def test_saturday_night_in_berlin_is_stored_and_audited(admin_user, demo_cloud):
    window = add_window(
        admin_user, demo_cloud, end_time=time(5), duration=None, timezone_name="Europe/Berlin"
    )
    assert window.duration == timedelta(hours=4) and window.weekdays == [5]
    assert window.as_rule().describe() == "Sat 01:00–05:00 Europe/Berlin"
    entry = AuditEntry.objects.get(action="maintenancewindow.create")
    assert entry.actor == admin_user and entry.cloud_slug == "demo"
    assert entry.detail["after"]["timezone"] == "Europe/Berlin"


def test_an_end_before_the_start_crosses_midnight(admin_user, demo_cloud):
    window = add_window(admin_user, demo_cloud, start_time=time(22), end_time=time(2), duration=None)
    assert window.duration == timedelta(hours=4)
    assert window.as_rule().describe() == "Sat 22:00–02:00 UTC"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone_name": "Mars/Olympus"}, "timezone"),
        ({"timezone_name": "../../etc/passwd"}, "timezone"),
        ({"duration": timedelta(0)}, "duration"),
        ({"duration": timedelta(minutes=-5)}, "duration"),
        ({"duration": timedelta(days=7, seconds=1)}, "duration"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"weekdays": [1, 1]}, "weekdays"),
        ({"duration": None, "end_time": time(1)}, "end_time"),
        ({"duration": None}, "duration"),
        ({"start_time": time(1, tzinfo=UTC)}, "start_time"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(admin_user, demo_cloud, change, field):
    assert refused_field(lambda: add_window(admin_user, demo_cloud, **change)) == {field}
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEntry.objects.filter(action="maintenancewindow.create").exists()


def test_seven_days_is_the_longest_window(admin_user, demo_cloud):
    assert add_window(admin_user, demo_cloud, duration=timedelta(days=7)).duration == timedelta(days=7)


def freeze(actor, cloud, **kw):
    args = {
        "starts_at": datetime(2026, 12, 20),
        "ends_at": datetime(2027, 1, 2),
        "reason": "year-end",
        "timezone_name": "Europe/Berlin",
    }
    return services.create_freeze(actor, cloud, **{**args, **kw})


def test_a_freeze_given_in_berlin_time_is_stored_as_that_instant(admin_user, demo_cloud):
    stored = freeze(admin_user, demo_cloud)
    assert stored.starts_at == datetime(2026, 12, 19, 23, tzinfo=UTC)
    assert stored.ends_at == datetime(2027, 1, 1, 23, tzinfo=UTC)
    assert AuditEntry.objects.get(action="changefreeze.create").detail["after"]["reason"] == "year-end"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": datetime(2026, 12, 19)}, "ends_at"),
        ({"ends_at": datetime(2026, 12, 20)}, "ends_at"),
        ({"timezone_name": "Nowhere/Land"}, "timezone"),
        ({"reason": "  "}, "reason"),
        ({"starts_at": datetime(1, 1, 1)}, "starts_at"),
        ({"ends_at": datetime(9999, 12, 31, 23, 59)}, "ends_at"),
    ],
)
def test_a_bad_freeze_is_refused_naming_the_field(admin_user, demo_cloud, change, field):
    assert refused_field(lambda: freeze(admin_user, demo_cloud, **change)) == {field}
    assert not ChangeFreeze.objects.exists()


def test_only_global_admins_freeze_every_cloud(operator, demo_cloud, django_user_model):
    cloud_admin = django_user_model.objects.create_user("cora-cloud-admin")
    demo_cloud.memberships.create(user=cloud_admin, role="admin")
    assert freeze(cloud_admin, demo_cloud).cloud == demo_cloud
    with pytest.raises(PermissionDenied):
        freeze(cloud_admin, None)
    with pytest.raises(PermissionDenied):
        freeze(operator, demo_cloud)


def test_removing_a_window_and_lifting_a_freeze_are_audited_with_what_they_were(admin_user, demo_cloud):
    window = add_window(admin_user, demo_cloud, label="patching")
    frozen = freeze(admin_user, None)
    services.delete_window(admin_user, demo_cloud, window.pk)
    services.delete_freeze(admin_user, None, frozen.pk)
    assert AuditEntry.objects.get(action="maintenancewindow.delete").detail["before"]["label"] == "patching"
    assert AuditEntry.objects.get(action="changefreeze.delete").detail["before"]["cloud"] is None
    assert not MaintenanceWindow.objects.exists() and not ChangeFreeze.objects.exists()


def test_a_window_of_another_cloud_cannot_be_removed_through_this_one(admin_user, demo_cloud, lab_cloud):
    window = add_window(admin_user, lab_cloud)
    assert refused_field(lambda: services.delete_window(admin_user, demo_cloud, window.pk)) == {"window"}
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()
