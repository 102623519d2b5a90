"""A hop's password merge on the cloud's stored passwords: every secret kept, the keys it lacks
generated as kolla-genpwd would, the keys (never the values) audited, unknown kinds refused."""

from __future__ import annotations

import re
import uuid

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEntry
from apps.clouds import secrets, services
from apps.clouds.passwords import merge_passwords
from apps.clouds.services import cloud_passwords

pytestmark = pytest.mark.django_db

NEW = ["valkey_master_password", "prometheus_haproxy_password"]
STORED = (
    "# kept by the operators\n"
    "database_password: Sup3r-Secret-DB\n"
    "keystone_admin_password: 'Adm1n: quoted'\n"
    "prometheus_haproxy_password: Already-Here\n"
    "nova_ssh_key:\n"
    "  private_key: PRIVATE\n"
    "  public_key: ssh-rsa PUBLIC\n"
)


@pytest.fixture
def cloud(demo_cloud, admin_user):
    return services.update_cloud(admin_user, demo_cloud, passwords_yml=STORED)


def stored_text(cloud) -> str:
    cloud.refresh_from_db()
    return secrets.decrypt(cloud.passwords_encrypted)


def test_the_merge_keeps_every_secret_and_generates_only_what_lacks(cloud, operator):
    before = cloud_passwords(cloud)

    result = merge_passwords(operator, cloud, NEW, job_id=7)

    assert result.generated == ["valkey_master_password"]
    assert result.kept == ["prometheus_haproxy_password"]
    after = cloud_passwords(cloud)
    assert {k: after[k] for k in before} == before
    assert set(after) == set(before) | {"valkey_master_password"}
    generated = after["valkey_master_password"]
    assert len(generated) == 40 and generated.isascii() and generated.isalnum()
    # The text the operators stored stays as it was, comments and quoting included.
    assert stored_text(cloud).startswith(STORED)


def test_each_generated_password_is_its_own(cloud, operator):
    merge_passwords(operator, cloud, [*NEW, "ceph_rgw_keystone_password"])
    after = cloud_passwords(cloud)
    assert after["valkey_master_password"] != after["ceph_rgw_keystone_password"]


def test_the_audit_entry_names_the_generated_keys_and_the_job_never_a_value(cloud, operator):
    merge_passwords(operator, cloud, NEW, job_id=7)

    entry = AuditEntry.objects.get(action="cloud.merge_passwords")
    assert entry.detail == {"generated": ["valkey_master_password"], "job": 7}
    assert entry.actor == operator and entry.cloud_slug == cloud.slug
    written = str(entry.detail)
    for value in cloud_passwords(cloud).values():
        assert str(value) not in written


def test_a_second_merge_changes_nothing_and_says_so(cloud, operator):
    merge_passwords(operator, cloud, NEW)
    cloud.refresh_from_db()
    token = cloud.passwords_encrypted

    again = merge_passwords(operator, cloud, NEW)

    assert again.generated == [] and again.kept == NEW
    assert "nothing changed" in again.message
    cloud.refresh_from_db()
    assert cloud.passwords_encrypted == token
    assert AuditEntry.objects.filter(action="cloud.merge_passwords").count() == 1


def test_an_empty_key_is_generated_as_kolla_genpwd_does_and_written_once(cloud, operator, admin_user):
    services.update_cloud(admin_user, cloud, passwords_yml=STORED + "valkey_master_password:\n")

    result = merge_passwords(operator, cloud, NEW)

    assert result.generated == ["valkey_master_password"]
    assert len(cloud_passwords(cloud)["valkey_master_password"]) == 40
    assert stored_text(cloud).count("valkey_master_password") == 1


def test_keys_of_other_kinds_are_generated_as_kolla_genpwd_makes_them(cloud, operator):
    """The SSH key pair, UUID, Fernet, HMAC-MD5 and bcrypt kinds each get a value of their own
    kind (a 2023.1 cloud skipping to 2024.1 lacks haproxy_ssh_key and prometheus_bcrypt_salt)."""
    keys = [
        "haproxy_ssh_key",
        "rbd_secret_uuid",
        "barbican_crypto_key",
        "designate_rndc_key",
        "prometheus_bcrypt_salt",
        "docker_registry_password",
    ]
    result = merge_passwords(operator, cloud, keys)

    # A registry password stays empty, as kolla-genpwd leaves it.
    assert result.generated == keys[:-1]
    stored = cloud_passwords(cloud)
    pair = stored["haproxy_ssh_key"]
    private = serialization.load_pem_private_key(pair["private_key"].encode(), password=None)
    public = serialization.load_ssh_public_key(pair["public_key"].encode())
    assert private.key_size == 4096 and public.public_numbers() == private.public_key().public_numbers()
    assert str(uuid.UUID(stored["rbd_secret_uuid"])) == stored["rbd_secret_uuid"]
    Fernet(stored["barbican_crypto_key"].encode())  # a valid Fernet key, or this raises
    assert re.fullmatch(r"[0-9a-f]{32}", stored["designate_rndc_key"])
    assert re.fullmatch(r"[A-Za-z0-9./]{22}", stored["prometheus_bcrypt_salt"])
    assert "docker_registry_password" not in stored


@pytest.mark.parametrize("key", ["future_service_ssh_key", "future_pool_uuid", "future_thing_salt"])
def test_a_key_whose_kind_only_its_name_suggests_is_refused_and_nothing_changes(cloud, operator, key):
    cloud.refresh_from_db()
    token = cloud.passwords_encrypted

    with pytest.raises(ValidationError) as refused:
        merge_passwords(operator, cloud, [*NEW, key])

    message = " ".join(refused.value.message_dict["passwords_yml"])
    assert key in message and "kolla-genpwd" in message
    cloud.refresh_from_db()
    assert cloud.passwords_encrypted == token
    assert not AuditEntry.objects.filter(action="cloud.merge_passwords").exists()


def test_a_key_of_another_kind_the_passwords_already_hold_is_kept(cloud, operator):
    result = merge_passwords(operator, cloud, ["nova_ssh_key", "valkey_master_password"])
    assert result.generated == ["valkey_master_password"] and result.kept == ["nova_ssh_key"]
    assert cloud_passwords(cloud)["nova_ssh_key"]["private_key"] == "PRIVATE"
