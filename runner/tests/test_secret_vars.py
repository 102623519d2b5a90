"""The one rule for which variables hold secrets, and hiding or collecting their values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.secret_vars import (
    MASK,
    config_secret_values,
    has_secrets,
    hide_secrets,
    hide_secrets_in_config,
    is_secret_name,
    secret_values,
)

SECRET_NAMES = [
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_ssh_pass",
    "ansible_password",
    "ansible_sudo_pass",
    "database_password",
    "keystone_admin_password",
    "docker_registry_password",
    "DB_PASSWORD",
    "nova_ssh_key",
    "kolla_ssh_key",
    "api_key",
    "apiKey",
    "ssh_keys",
    "octavia_client_secret",
    "mysecret",
    "vault_token",
    "authToken",
    "ceph.client.key",
    "tls-passphrase",
    "ldap_passwd",
]
PLAIN_NAMES = [
    "ansible_host",
    "ansible_user",
    "ansible_port",
    "ansible_connection",
    "keystone_public_port",
    "enable_keystone",
    "keystone_admin_url",
    "kolla_internal_vip_address",
    "openstack_release",
    "nova_cell_name",
    "nova_novncproxy_port",
    "enable_passthrough",
    "bypass_checks",
    "monkey_island",
    "compass",
    "",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_hold_secrets(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_names_that_hold_configuration(name):
    assert not is_secret_name(name)


def test_names_that_are_not_text_are_not_secret():
    assert not is_secret_name(42)
    assert not is_secret_name(None)


words = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
separators = st.sampled_from(["_", "-", "."])


@given(
    prefix=st.lists(words, max_size=3),
    word=st.sampled_from(["password", "secret", "token", "key"]),
    suffix=st.lists(words, max_size=3),
    sep=separators,
)
def test_any_name_with_a_secret_word_of_its_own_is_secret(prefix, word, suffix, sep):
    assert is_secret_name(sep.join([*prefix, word, *suffix]))


@given(middle=st.lists(words, max_size=3), tail=st.from_regex(r"[a-z0-9_]{0,8}", fullmatch=True))
def test_any_ansible_pass_variable_is_secret(middle, tail):
    assert is_secret_name("_".join(["ansible", *middle, "pass" + tail]))


@given(name=st.from_regex(r"[A-Za-z0-9_.-]{0,30}", fullmatch=True))
def test_case_does_not_decide(name):
    assert is_secret_name(name.lower()) == is_secret_name(name.upper().lower())


@given(name=st.from_regex(r"[a-z0-9_]{0,30}", fullmatch=True))
def test_secret_names_contain_a_secret_word(name):
    if is_secret_name(name):
        assert any(part in name for part in ("pass", "secret", "token", "key"))


def test_hide_secrets_masks_at_any_depth_and_keeps_the_rest():
    variables = {
        "ansible_host": "10.0.0.1",
        "ansible_become_password": "hunter2hunter2",
        "registry": {"url": "https://r", "password": "p4ss", "mirrors": [{"token": "t0k3n"}]},
        "ssh_keys": {"root": "AAAA"},
    }
    assert hide_secrets(variables) == {
        "ansible_host": "10.0.0.1",
        "ansible_become_password": MASK,
        "registry": {"url": "https://r", "password": MASK, "mirrors": [{"token": MASK}]},
        "ssh_keys": MASK,
    }
    assert variables["ansible_become_password"] == "hunter2hunter2"  # a copy
    assert has_secrets(variables)
    assert not has_secrets({"ansible_host": "x", "groups": [{"name": "y"}]})


def test_secret_values_are_every_leaf_under_a_secret_name():
    variables = {
        "ansible_host": "10.0.0.1",
        "ansible_become_password": "hunter2hunter2",
        "registry": {"password": 123456, "mirrors": [{"token": "t0k3n"}]},
        "ssh_keys": {"root": ["AAAA-key-1", "AAAA-key-2"]},
        "short_secret": "abc",
        "enable_token": True,
        "empty_password": None,
    }
    assert sorted(secret_values(variables)) == sorted(
        ["hunter2hunter2", "123456", "t0k3n", "AAAA-key-1", "AAAA-key-2"]
    )


def test_config_files_secrets_are_found_and_masked():
    text = (
        "[database]\nconnection = mysql+pymysql://nova:Db-Url-Pass@db/nova\n"
        "[keystone_authtoken]\npassword = Ks-Pass-1\nauth_url = http://keystone:5000\n"
        "[client.nova]\n\tkey = AQBxKeyring==\r\n"
    )
    assert set(config_secret_values(text)) == {"Db-Url-Pass", "Ks-Pass-1", "AQBxKeyring=="}
    hidden = hide_secrets_in_config(text)
    assert "Db-Url-Pass" not in hidden and "Ks-Pass-1" not in hidden and "AQBx" not in hidden
    assert "auth_url = http://keystone:5000\n" in hidden and hidden.endswith(f"\tkey = {MASK}\r\n")
