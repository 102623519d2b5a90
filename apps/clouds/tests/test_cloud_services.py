"""Defining clouds: validation that names the field, encryption of passwords, audit."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.audit.models import AuditEntry
from apps.clouds import services
from apps.clouds.models import Cloud

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"slug": "Bad_Name"}, "slug", "DNS label"),
        ({"slug": "ok", "globals_yml": "a: [1,\n"}, "globals_yml", "not valid YAML at line"),
        ({"slug": "ok", "globals_yml": "- a list"}, "globals_yml", "must be a YAML mapping"),
        ({"slug": "ok", "release": "2031.1"}, "release", "unknown release series '2031.1'"),
        ({"slug": "ok", "passwords_yml": "p: {a\n"}, "passwords_yml", "not valid YAML"),
    ],
)
def test_bad_cloud_is_refused_naming_the_field_and_nothing_is_created(admin_user, fields, field, fragment):
    with pytest.raises(ValidationError) as refused:
        services.create_cloud(admin_user, **fields)
    assert field in refused.value.message_dict
    assert fragment in " ".join(refused.value.message_dict[field])
    assert not Cloud.objects.exists()
    assert not AuditEntry.objects.exists()


def test_passwords_are_encrypted_at_rest_and_readable_by_the_runner(admin_user):
    cloud = services.create_cloud(admin_user, slug="east", passwords_yml="database_password: Plain-Text-Pw\n")
    with connection.cursor() as cursor:
        cursor.execute("SELECT passwords_encrypted FROM clouds_cloud WHERE id = %s", [cloud.pk])
        stored = cursor.fetchone()[0]
    assert "Plain-Text-Pw" not in stored and stored
    assert services.cloud_passwords(cloud) == {"database_password": "Plain-Text-Pw"}
    assert services.secret_values(cloud) == ["Plain-Text-Pw"]


def test_globals_comments_survive(admin_user):
    text = "# our VIP\nkolla_internal_vip_address: 10.0.0.250  # keep\n"
    cloud = services.create_cloud(admin_user, slug="east", globals_yml=text)
    assert Cloud.objects.get(pk=cloud.pk).globals_yml == text


def test_update_records_what_changed_without_secrets(admin_user):
    cloud = services.create_cloud(admin_user, slug="east")
    services.update_cloud(admin_user, cloud, region="RegionTwo", passwords_yml="x_password: Very-Secret-1\n")
    entry = AuditEntry.objects.filter(action="cloud.update").get()
    assert entry.actor == admin_user and entry.cloud_slug == "east"
    assert entry.detail["changed"] == ["region", "passwords_yml"]
    assert "Very-Secret-1" not in str(entry.detail)
