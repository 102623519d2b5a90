"""Every edit form of the admin site saves, as rendered, without changing the object it edits.

The list covers every model the admin site registers, Ferry's and its libraries' alike: a model
registered later without an object to edit here fails ``test_every_admin_model_has_an_edit_case``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.urls import reverse

from apps.audit.models import AuditEntry
from tests.browser_form import as_post_data, browser_submission

pytestmark = pytest.mark.django_db


def _object_to_edit(label: str, admin_user, demo_cloud):
    """One stored object of the model ``label``, with its inlines and many-to-many rows filled."""
    from django_celery_beat import models as beat
    from rest_framework.authtoken.models import Token, TokenProxy

    from apps.catalog.models import Image, ImageTag, Release, SupportTier
    from apps.clouds.models import Cell, Host, InventoryGroup

    if label == "auth.Group":
        group = Group.objects.get(name="admin")
        group.permissions.set(Permission.objects.filter(codename__in=["view_cloud", "change_cloud"]))
        return group
    if label == "auth.User":
        return admin_user
    if label.startswith("axes."):
        from django.apps import apps

        seen = {"user_agent": "curl", "ip_address": "127.0.0.1", "username": "ada", "http_accept": "*/*"}
        extra = (
            {"get_data": "", "post_data": "", "failures_since_start": 3}
            if label == "axes.AccessAttempt"
            else {}
        )
        return apps.get_model(label).objects.create(path_info="/login/", **seen, **extra)
    if label == "authtoken.TokenProxy":
        return TokenProxy.objects.get(pk=Token.objects.create(user=admin_user).pk)
    every_five = beat.IntervalSchedule.objects.create(every=5, period=beat.IntervalSchedule.SECONDS)
    found = {
        "django_celery_beat.IntervalSchedule": every_five,
        "django_celery_beat.PeriodicTask": lambda: beat.PeriodicTask.objects.create(
            name="reap-lost-jobs", task="ferry.jobs.reap", interval=every_five, kwargs="{}"
        ),
        "django_celery_beat.CrontabSchedule": lambda: beat.CrontabSchedule.objects.create(
            minute="*/15", hour="2-4"
        ),
        "django_celery_beat.SolarSchedule": lambda: beat.SolarSchedule.objects.create(
            event="sunrise", latitude="48.85", longitude="2.35"
        ),
        "django_celery_beat.ClockedSchedule": lambda: beat.ClockedSchedule.objects.create(
            clocked_time=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
        ),
        "catalog.Release": lambda: Release.objects.get(series="2025.1"),
        "catalog.Image": lambda: Image.objects.filter(availability__isnull=False).first(),
        "catalog.ImageTag": lambda: ImageTag.objects.first(),
        "catalog.SupportTier": lambda: _multiline_description(
            SupportTier.objects.filter(rules__isnull=False)
        ),
        "clouds.Cloud": lambda: demo_cloud,
        "clouds.Cell": lambda: Cell.objects.first(),
        "clouds.Host": lambda: Host.objects.filter(cell__isnull=False).first(),
        "clouds.InventoryGroup": lambda: InventoryGroup.objects.exclude(children=[]).first(),
    }[label]
    return found if isinstance(found, models.Model) else found()


def _multiline_description(tiers):
    tier = tiers[0]
    tier.description = "Images we build and test ourselves.\n\nReport problems upstream too.\n"
    tier.save()
    return tier


def _editable_labels() -> list[str]:
    return sorted(
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        # Read-only admins (the audit trail) render no edit form.
        if model_admin.has_change_permission.__func__ is admin.ModelAdmin.has_change_permission
    )


def _tables(model_admin: admin.ModelAdmin) -> list[type[models.Model]]:
    edited = [model_admin.model, *(inline.model for inline in model_admin.inlines)]
    return edited + [f.remote_field.through for m in edited for f in m._meta.many_to_many]


def _snapshot(tables: list[type[models.Model]]) -> dict[str, list[dict]]:
    """Every stored row of ``tables``, but for the columns that record when a row was last saved."""
    return {
        m._meta.label: list(
            m._base_manager.order_by("pk").values(
                *(f.attname for f in m._meta.concrete_fields if not getattr(f, "auto_now", False))
            )
        )
        for m in tables
    }


def test_every_admin_model_has_an_edit_case(admin_user, demo_cloud):
    for label in _editable_labels():
        assert _object_to_edit(label, admin_user, demo_cloud) is not None, label


@pytest.mark.parametrize("label", _editable_labels())
def test_saving_an_admin_edit_form_as_rendered_changes_nothing(client_as, admin_user, demo_cloud, label):
    client = client_as(admin_user)
    obj = _object_to_edit(label, admin_user, demo_cloud)
    model_admin = admin.site._registry[type(obj)]
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    before = _snapshot(_tables(model_admin))
    audit_before = AuditEntry.objects.count()

    page = client.get(url).content.decode()
    pairs = browser_submission(page, form={"id": f"{obj._meta.model_name}_form"}, submit="_save")
    response = client.post(url, as_post_data(pairs))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert _snapshot(_tables(model_admin)) == before
    entry = LogEntry.objects.get(object_id=str(obj.pk), content_type__model=obj._meta.model_name)
    assert entry.get_change_message() == "No fields changed."
    assert AuditEntry.objects.count() == audit_before


def test_saving_the_release_list_as_rendered_changes_nothing(client_as, admin_user, catalog):
    from apps.catalog.models import Release

    client = client_as(admin_user)
    url = reverse("admin:catalog_release_changelist")
    before = _snapshot([Release])

    pairs = browser_submission(
        client.get(url).content.decode(), form={"id": "changelist-form"}, submit="_save"
    )
    response = client.post(url, as_post_data(pairs))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert _snapshot([Release]) == before
    assert not LogEntry.objects.exists()
