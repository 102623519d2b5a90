"""Changes to a cloud's definition and inventory are audited with what was before and after."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.clouds import services
from apps.clouds.demo import DEMO_INVENTORY

pytestmark = pytest.mark.django_db


def last(action: str) -> dict:
    return AuditEntry.objects.filter(action=action).latest("id").detail


def test_a_globals_change_is_audited_before_and_after_with_secrets_masked(admin_user, demo_cloud):
    old = demo_cloud.globals_yml
    services.update_cloud(
        admin_user,
        demo_cloud,
        description="east region",
        globals_yml=old + 'keystone_admin_password: "Plain-Text-Pw"\n',
        passwords_yml="database_password: New-Db-Pw\n",
    )
    detail = last("cloud.update")
    assert detail["changed"] == ["description", "globals_yml", "passwords_yml"]
    assert detail["before"]["description"] == "" and detail["after"]["description"] == "east region"
    assert detail["before"]["globals_yml"] == old
    assert "keystone_admin_password" in detail["after"]["globals_yml"]
    assert detail["before"]["passwords_yml"] == ["database_password", "keystone_admin_password"]
    assert detail["after"]["passwords_yml"] == ["database_password"]
    stored = str(AuditEntry.objects.filter(action="cloud.update").values_list("detail", flat=True)[0])
    assert "Plain-Text-Pw" not in stored and "New-Db-Pw" not in stored and "Sup3r-Secret-DB" not in stored


def test_a_release_change_is_audited_before_and_after(admin_user, demo_cloud):
    services.update_cloud(admin_user, demo_cloud, release="2025.2")
    detail = last("cloud.update")
    assert detail["before"] == {"release": "2025.1"} and detail["after"] == {"release": "2025.2"}


def test_an_inventory_import_says_what_came_went_and_changed(admin_user, demo_cloud, tmp_path):
    text = (DEMO_INVENTORY / "multinode").read_text()
    text = text.replace("c2cmp[01:03]", "c2cmp[01:02]").replace(
        "net01 ansible_host=10.0.0.21", "net01 ansible_host=10.0.0.99"
    )
    text += "\n[extra]\nctl01\n"
    (tmp_path / "multinode").write_text(text)
    services.import_inventory_path(admin_user, demo_cloud, tmp_path / "multinode")
    detail = last("cloud.import_inventory")
    assert detail["hosts_removed"] == ["c2cmp03"] and detail["hosts_added"] == []
    assert detail["groups_added"] == ["extra"]
    assert "host net01" in detail["modified"] and "group cell2-compute" in detail["modified"]
    assert "c2cmp03" in detail["before"]["hosts"] and "c2cmp03" not in detail["after"]["hosts"]
