"""Which Ansible variables hold secrets, judged by their names, and what to hide of them.

kolla-ansible keeps its generated passwords in passwords.yml, which Ferry encrypts and redacts
whole. Operators also put secrets in inventories and globals (``ansible_become_password`` on a
host, a registry password in globals.yml). Those are trusted configuration that Ansible must see,
but only admins may read them back, and their values are masked in job output like passwords.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MASK = "********"

# Words that mark a secret anywhere inside one word of the name: db_password, mysecret, authtoken.
_SECRET_PARTS = ("password", "passwd", "passphrase", "secret", "token")
# ``key`` marks a secret as a word of its own (ssh_key, api_key, ssh_keys) or in a few run-together
# words (apikey, privkey), not as part of others: every keystone_* variable is configuration.
_KEY_WORD = re.compile(r"^(api|priv|private|ssh|access|auth|enc|master|signing|crypt)?keys?$")
_ANSIBLE_PASS = re.compile(r"^ansible_(.+_)?pass")
_WORDS = re.compile(r"[^a-z0-9]+")
# Short values and booleans would mask ordinary output ("True", "yes") everywhere in a job's log.
MIN_SECRET_LENGTH = 4


def is_secret_name(name: Any) -> bool:
    """Whether a variable called ``name`` holds a secret (password, secret, key, token, ansible_*_pass*)."""
    if not isinstance(name, str):
        return False
    # camelCase words apart, then compare without case.
    lowered = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    if _ANSIBLE_PASS.match(lowered):
        return True
    for word in _WORDS.split(lowered):
        if any(part in word for part in _SECRET_PARTS) or _KEY_WORD.match(word):
            return True
    return False


def hide_secrets(variables: Any) -> Any:
    """A copy of ``variables`` (mappings and lists of any depth) with secret-named values masked."""
    if isinstance(variables, dict):
        return {key: MASK if is_secret_name(key) else hide_secrets(value) for key, value in variables.items()}
    if isinstance(variables, list | tuple):
        return [hide_secrets(item) for item in variables]
    return variables


def has_secrets(variables: Any) -> bool:
    """Whether any variable in ``variables`` (at any depth) has a secret name."""
    if isinstance(variables, dict):
        return any(is_secret_name(key) or has_secrets(value) for key, value in variables.items())
    if isinstance(variables, list | tuple):
        return any(has_secrets(item) for item in variables)
    return False


def secret_values(variables: Any, *, inside_secret: bool = False) -> Iterator[str]:
    """The values held under secret names in ``variables``, as text, to redact from job output."""
    if isinstance(variables, dict):
        for key, value in variables.items():
            yield from secret_values(value, inside_secret=inside_secret or is_secret_name(key))
    elif isinstance(variables, list | tuple):
        for item in variables:
            yield from secret_values(item, inside_secret=inside_secret)
    elif inside_secret and variables is not None and not isinstance(variables, bool):
        text = str(variables)
        if len(text) >= MIN_SECRET_LENGTH:
            yield text


_YAML_KEY = re.compile(
    r"""^(?P<indent>[ \t]*(?:-[ \t]+)?)(?P<q>["']?)(?P<key>[^"':#\s][^"':#]*?)(?P=q)[ \t]*:(?:[ \t]|$)"""
)


def hide_secrets_in_yaml(text: str) -> str:
    """YAML ``text`` with the values of secret-named keys masked, comments and order kept.

    Line by line: a secret key's value, and the more indented lines of a block under it, become the
    mask. When what is left would still hold a secret value (flow mappings, anchors), the mapping is
    dumped again with the secrets masked, without its comments.
    """
    import yaml

    try:
        data = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        data = None
    if not has_secrets(data) and not _secret_keys_in_text(text):
        return text
    out: list[str] = []
    block_indent: int | None = None
    for line in text.splitlines(keepends=True):
        if block_indent is not None:
            stripped = line.strip()
            if not stripped or len(line) - len(line.lstrip(" \t")) > block_indent:
                continue
            block_indent = None
        match = _YAML_KEY.match(line)
        if match and is_secret_name(match["key"]):
            out.append(f"{match['indent']}{match['q']}{match['key']}{match['q']}: {MASK}\n")
            block_indent = len(match["indent"])
            continue
        out.append(line)
    hidden = "".join(out)
    if any(value in hidden for value in secret_values(data)) or data is None:
        if not isinstance(data, dict | list):
            return f"# {MASK} (holds secrets; only admins can read it)\n"
        return yaml.safe_dump(hide_secrets(data), sort_keys=False, default_flow_style=False)
    return hidden


def _secret_keys_in_text(text: str) -> bool:
    return any((m := _YAML_KEY.match(line)) and is_secret_name(m["key"]) for line in text.splitlines())


# ``key = value`` (INI, as in kolla's config overrides and Ceph keyrings) and ``key: value``.
_INI_LINE = re.compile(r"^(?P<head>[ \t]*(?P<key>[A-Za-z0-9_.\-]+)[ \t]*[=:][ \t]*)(?P<value>\S.*?)[ \t]*$")
# The password of a URL with credentials: transport_url, [database] connection.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)")


def config_secret_values(text: str) -> Iterator[str]:
    """Secret values in a config file's ``text``: secret-named keys' values, URL passwords."""
    for line in text.splitlines():
        match = _INI_LINE.match(line)
        if match and is_secret_name(match["key"]) and len(match["value"]) >= MIN_SECRET_LENGTH:
            yield match["value"]
        for url in _URL_PASSWORD.finditer(line):
            if len(url["password"]) >= MIN_SECRET_LENGTH:
                yield url["password"]


def hide_secrets_in_config(text: str) -> str:
    """A config file's ``text`` (INI-like) with secret-named keys' values and URL passwords masked."""
    out = []
    for line in text.splitlines(keepends=True):
        ending = line[len(line.rstrip("\r\n")) :]
        body = line[: len(line) - len(ending)]
        match = _INI_LINE.match(body)
        if match and is_secret_name(match["key"]):
            body = f"{match['head']}{MASK}"
        body = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", body)
        out.append(body + ending)
    return "".join(out)
