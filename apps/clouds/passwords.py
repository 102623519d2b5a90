"""A hop's password merge: add the keys a target release's kolla-genpwd would generate to the
cloud's stored passwords, keeping every secret it holds.

kolla-ansible's upgrade procedure runs kolla-genpwd and kolla-mergepwd of the target release; Ferry
keeps the cloud's passwords.yml itself (encrypted, ``Cloud.passwords_encrypted``) and hands it to
every step, so the merge happens here, as a step of the job, on what Ferry stores.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit.services import record
from apps.clouds import secrets as stored_secrets
from apps.clouds.models import Cloud
from apps.clouds.services import parse_yaml_mapping

# kolla-genpwd's plain password: this many letters and digits.
PASSWORD_LENGTH = 40
PASSWORD_ALPHABET = string.ascii_letters + string.digits

# The keys kolla-ansible 22.2.0's kolla-genpwd does not fill with a plain password, and what it puts
# there instead; Ferry generates each the same way (a random string where kolla expects an SSH key
# pair, a UUID or a Fernet key would deploy, then break the service that reads it).
SSH_KEY, UUID, HMAC_MD5, FERNET, BCRYPT_SALT, BLANK = (
    "an SSH key pair",
    "a UUID",
    "an HMAC-MD5 key",
    "a Fernet key",
    "a bcrypt salt",
    "left empty unless a registry needs it",
)
KEY_KINDS = {
    **dict.fromkeys(
        (
            "kolla_ssh_key",
            "nova_ssh_key",
            "keystone_ssh_key",
            "bifrost_ssh_key",
            "octavia_amp_ssh_key",
            "neutron_ssh_key",
            "haproxy_ssh_key",
        ),
        SSH_KEY,
    ),
    **dict.fromkeys(
        (
            "rbd_secret_uuid",
            "cinder_rbd_secret_uuid",
            "gnocchi_project_id",
            "gnocchi_resource_id",
            "gnocchi_user_id",
            "designate_pool_id",
        ),
        UUID,
    ),
    "designate_rndc_key": HMAC_MD5,
    "osprofiler_secret": HMAC_MD5,
    "barbican_crypto_key": FERNET,
    "prometheus_bcrypt_salt": BCRYPT_SALT,
    "docker_registry_password": BLANK,
}
# A key a later release adds whose kind Ferry cannot know is refused by these names: kolla names its
# SSH key pairs *_ssh_key, its UUIDs *_uuid or *_id, its salts *_salt.
UNKNOWN_KIND_SUFFIXES = {"_ssh_key": SSH_KEY, "_uuid": UUID, "_id": UUID, "_salt": "a salt"}
# ansible's password_hash filter takes a bcrypt salt of 22 of these (kolla-genpwd uses ansible's
# random_salt for it).
SALT_ALPHABET = string.ascii_letters + string.digits + "./"


def _ssh_key_pair() -> dict[str, str]:
    """An RSA key pair as kolla-genpwd makes one: 4096 bits, PKCS#8 PEM and OpenSSH public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return {"private_key": private, "public_key": public.decode()}


GENERATORS: dict[str, Callable[[], Any]] = {
    SSH_KEY: _ssh_key_pair,
    UUID: lambda: str(uuid.uuid4()),
    HMAC_MD5: lambda: hmac.new(uuid.uuid4().hex.encode(), b"", hashlib.md5).hexdigest(),
    FERNET: lambda: Fernet.generate_key().decode(),
    BCRYPT_SALT: lambda: "".join(secrets.choice(SALT_ALPHABET) for _ in range(22)),
}


@dataclass
class PasswordMerge:
    """What a merge did: the keys it generated and those the passwords already held."""

    generated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """One line for the job's output; it names keys, never values."""
        if not self.generated:
            return f"The passwords already hold {', '.join(self.kept)}: nothing changed."
        said = f"Generated {', '.join(self.generated)}; every existing secret kept"
        return said + (f" ({', '.join(self.kept)} already held)." if self.kept else ".")


def password_kind(key: str) -> str:
    """What kolla-genpwd puts in ``key`` when it is not a plain password; "" for a plain password."""
    if key in KEY_KINDS:
        return KEY_KINDS[key]
    return next((kind for suffix, kind in UNKNOWN_KIND_SUFFIXES.items() if key.endswith(suffix)), "")


def generate_secret(key: str) -> Any:
    """A value for ``key`` as kolla-genpwd generates it: a plain password, or the kind of secret
    ``KEY_KINDS`` names; a ``ValueError`` for a key of a kind Ferry does not know how to make."""
    kind = password_kind(key)
    if not kind:
        return generate_password()
    if key not in KEY_KINDS or kind not in GENERATORS:
        raise ValueError(f"Ferry cannot tell how to generate {key} ({kind})")
    return GENERATORS[kind]()


def generate_password() -> str:
    """A plain password as kolla-genpwd makes one: 40 random letters and digits."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def merge_passwords(actor, cloud: Cloud, keys: Sequence[str], *, job_id: int | None = None) -> PasswordMerge:
    """Give ``cloud``'s stored passwords each of ``keys`` it lacks, generated as kolla-genpwd would.

    Every key the passwords hold keeps its value, and the stored text keeps its comments: new keys
    are added at its end. As kolla-genpwd, a key counts as lacking when it is absent or empty
    (``key:`` with no value); an empty string is a value. A lacking key of another kind kolla knows
    (``KEY_KINDS``: SSH key pairs, UUIDs, HMAC-MD5 and Fernet keys, a bcrypt salt) is generated as
    kolla-genpwd makes it, a registry password left empty; one whose name only suggests another kind
    (a later release's ``*_ssh_key``) is refused naming ``passwords_yml`` and nothing changes.
    When nothing lacks, nothing is stored or audited. The audit entry names the generated keys and
    ``job_id``, never a value.
    """
    with transaction.atomic():
        locked = Cloud.objects.select_for_update().get(pk=cloud.pk)
        try:
            text = stored_secrets.decrypt(locked.passwords_encrypted) if locked.passwords_encrypted else ""
        except ValueError as exc:
            raise ValidationError({"passwords_yml": str(exc)}) from None
        current = parse_yaml_mapping(text, "passwords_yml")
        wanted = list(dict.fromkeys(keys))
        # kolla-genpwd leaves a blank key empty: a registry password exists only where one is used.
        lacking = [key for key in wanted if current.get(key) is None and password_kind(key) != BLANK]
        refused = [
            f"{key} ({password_kind(key)})"
            for key in lacking
            if password_kind(key) and (key not in KEY_KINDS or password_kind(key) not in GENERATORS)
        ]
        if refused:
            raise ValidationError(
                {
                    "passwords_yml": f"Ferry cannot tell how to generate {', '.join(refused)}: "
                    "generate it with the target release's kolla-genpwd and store it with the "
                    "cloud's passwords"
                }
            )
        result = PasswordMerge(generated=lacking, kept=[key for key in wanted if key not in lacking])
        if not lacking:
            return result
        added = {key: generate_secret(key) for key in lacking}
        merged = {**current, **added}
        locked.passwords_encrypted = stored_secrets.encrypt(_merged_text(text, current, added, merged))
        locked.save(update_fields=["passwords_encrypted", "updated_at"])
        record(actor, "cloud.merge_passwords", locked, detail={"generated": lacking, "job": job_id})
    cloud.passwords_encrypted = locked.passwords_encrypted
    return result


def _merged_text(text: str, current: dict, added: dict[str, Any], merged: dict) -> str:
    """The stored text with ``added`` at its end, so operators' comments and layout stay; the whole
    mapping written again where that would not read back as ``merged`` (a key present but empty, a
    flow mapping, a document marker)."""
    if not any(key in current for key in added):
        appended = (text.rstrip("\n") + "\n" if text.strip() else "") + yaml.safe_dump(
            added, default_flow_style=False, sort_keys=False
        )
        if parse_yaml_mapping(appended, "passwords_yml") == merged:
            return appended
    return yaml.safe_dump(merged, default_flow_style=False, sort_keys=False)
