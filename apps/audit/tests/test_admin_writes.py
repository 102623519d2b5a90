"""Edits through the Django admin (catalog, clouds, cells, hosts, groups) are audited too, with
before and after; deleting a release still in use is refused there as well."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.audit.models import AuditEntry
from tests.browser_form import as_post_data, browser_submission
from tests.test_admin_edit_forms import _object_to_edit

pytestmark = pytest.mark.django_db

EDITS = {
    "catalog.Release": ("name", "Epoxy Prime"),
    "catalog.Image": ("description", "edited in the admin"),
    "catalog.ImageTag": ("tag", "edited-tag"),
    "catalog.SupportTier": ("description", "edited in the admin"),
    "clouds.Cloud": ("description", "edited in the admin"),
    "clouds.Cell": ("group", "edited-group"),
    "clouds.Host": ("address", "10.9.9.9"),
    "clouds.InventoryGroup": ("position", "77"),
}


def _post_edited(client, obj, changes: dict[str, str]):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    page = client.get(url).content.decode()
    pairs = browser_submission(page, form={"id": f"{obj._meta.model_name}_form"}, submit="_save")
    pairs = [(name, changes.get(name, value)) for name, value in pairs]
    return client.post(url, as_post_data(pairs))


@pytest.mark.parametrize("label", sorted(EDITS))
def test_an_admin_edit_is_audited_before_and_after(client_as, admin_user, demo_cloud, label):
    field, value = EDITS[label]
    obj = _object_to_edit(label, admin_user, demo_cloud)
    assert isinstance(admin.site._registry[type(obj)], admin.ModelAdmin)
    before = str(getattr(obj, field))
    response = _post_edited(client_as(admin_user), obj, {field: value})
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action=f"{obj._meta.model_name}.update").latest("id")
    assert entry.actor == admin_user and entry.object_id == str(obj.pk)
    assert entry.detail["changed"] == [field]
    assert str(entry.detail["before"][field]) == before and str(entry.detail["after"][field]) == value


def test_an_inline_row_edited_in_the_admin_is_audited(client_as, admin_user, demo_cloud):
    obj = _object_to_edit("catalog.Image", admin_user, demo_cloud)
    cell = obj.availability.order_by("id").first()
    new = "untested" if cell.status != "untested" else "tested"
    index = list(obj.availability.order_by("distro", "arch").values_list("id", flat=True)).index(cell.id)
    response = _post_edited(client_as(admin_user), obj, {f"availability-{index}-status": new})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="imageavailability.update")
    assert entry.detail["after"] == {"status": new}


def test_an_admin_delete_is_audited_and_one_in_use_is_refused(client_as, admin_user, demo_cloud):
    from apps.catalog.models import Release

    client = client_as(admin_user)
    unused = Release.objects.get(series="2027.1")
    url = reverse("admin:catalog_release_delete", args=[unused.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert AuditEntry.objects.get(action="release.delete").detail["before"]["series"] == "2027.1"

    in_use = Release.objects.get(series="2025.1")  # the demo cloud runs it
    client.raise_request_exception = False
    response = client.post(reverse("admin:catalog_release_delete", args=[in_use.pk]), {"post": "yes"})
    assert response.status_code in (200, 403)  # the admin's own "cannot delete" page, or our refusal
    assert Release.objects.filter(pk=in_use.pk).exists()
    assert AuditEntry.objects.filter(action="release.delete").count() == 1


def test_the_audit_trail_is_read_only_in_the_admin(client_as, admin_user, trail_entry):
    client = client_as(admin_user)
    change = reverse("admin:audit_auditentry_change", args=[trail_entry.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"action": "forged"}).status_code == 403
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert client.post(reverse("admin:audit_auditentry_delete", args=[trail_entry.pk])).status_code == 403
    assert AuditEntry.objects.get(pk=trail_entry.pk).action == "test.entry"


@pytest.fixture
def trail_entry(db, admin_user):
    from apps.audit.services import record

    return record(admin_user, "test.entry")
