"""Encryption at rest for each cloud's ``passwords.yml`` and secret configuration files (Fernet,
keys from FERRY_SECRETS_KEY)."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_key(passphrase: str) -> bytes:
    # Operators set a long random string; Fernet wants 32 url-safe base64 bytes.
    return base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())


def _embedded_key() -> str:
    """The embedded shape keeps a generated key in var/secrets.key (mode 0600)."""
    path = Path(settings.VAR_DIR) / "secrets.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return path.read_text().strip()


@cache
def _cipher() -> MultiFernet:
    passphrases = settings.FERRY_SECRETS_KEYS or [_embedded_key()]
    return MultiFernet([Fernet(_fernet_key(p)) for p in passphrases])


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the current key."""
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a value stored by :func:`encrypt`; a clear error if no key fits."""
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "stored passwords cannot be decrypted with FERRY_SECRETS_KEY; was the key changed?"
        ) from None


def encrypt_bytes(plaintext: bytes) -> str:
    """Encrypt the bytes of a file with the current key (a Fernet token, text)."""
    return _cipher().encrypt(plaintext).decode()


def decrypt_bytes(token: str) -> bytes:
    """Decrypt a file stored by :func:`encrypt_bytes`; a clear error if no key fits."""
    try:
        return _cipher().decrypt(token.encode())
    except InvalidToken:
        raise ValueError(
            "a stored secret file cannot be decrypted with FERRY_SECRETS_KEY; was the key changed?"
        ) from None
