"""Variables that hold secrets in inventories and globals: hidden from non-admins, masked in job output."""

from __future__ import annotations

import pytest

from apps.clouds import services
from apps.jobs.execution import cloud_context
from runner.secret_vars import MASK

pytestmark = pytest.mark.django_db

BECOME = "Bec0me-Secret-9f2"
GROUP_TOKEN = "Gr0up-Token-77aa"
CELL_SECRET = "Ce11-Secret-31bc"
HOSTVARS_KEY = "H0stvars-Key-5e5e"
REGISTRY = "Regi5try-Secret-0d0d"
ALL_SECRETS = (BECOME, GROUP_TOKEN, CELL_SECRET, HOSTVARS_KEY, REGISTRY)

INVENTORY = f"""
[control]
ctl01 ansible_host=10.0.0.11 ansible_become_password={BECOME} ansible_user=kolla

[cell1]
c1cmp01 ansible_host=10.0.1.11

[compute:children]
cell1

[control:vars]
vault_token={GROUP_TOKEN}
"""


@pytest.fixture
def secret_cloud(catalog, tmp_path):
    (tmp_path / "multinode").write_text(INVENTORY)
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "cell1").write_text(
        f"nova_cell_name: cell1\nnova_cell_compute_group: cell1\ncell_api_secret: {CELL_SECRET}\n"
    )
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "ctl01.yml").write_text(f"ssh_key: {HOSTVARS_KEY}\n")
    cloud = services.create_cloud(
        None,
        slug="vault",
        release="2025.1",
        globals_yml=(
            "# registry credentials\n"
            'kolla_base_distro: "rocky"\n'
            f"docker_registry_password: {REGISTRY}\n"
            "docker_registry: registry.example.com\n"
        ),
    )
    services.import_inventory_path(None, cloud, tmp_path)
    return cloud


@pytest.mark.parametrize("persona", ["viewer", "operator", "approver"])
def test_non_admins_do_not_see_secret_variables_in_the_api(api_as, request, persona, secret_cloud):
    api = api_as(request.getfixturevalue(persona))
    bodies = [
        api.get("/api/hosts/", {"cloud": "vault"}).content.decode(),
        api.get("/api/cells/", {"cloud": "vault"}).content.decode(),
        api.get("/api/clouds/").content.decode(),
        api.get("/api/clouds/vault/").content.decode(),
    ]
    for body in bodies:
        for secret in ALL_SECRETS:
            assert secret not in body
    host = api.get("/api/hosts/", {"cloud": "vault", "group": "control"}).json()["results"][0]
    assert host["variables"] == {"ansible_become_password": MASK, "ansible_user": "kolla"}
    globals_yml = api.get("/api/clouds/vault/").json()["globals_yml"]
    assert f"docker_registry_password: {MASK}" in globals_yml
    assert "docker_registry: registry.example.com" in globals_yml and "# registry credentials" in globals_yml


def test_admins_read_secret_variables_back(api_as, admin_user, secret_cloud):
    api = api_as(admin_user)
    host = api.get("/api/hosts/", {"cloud": "vault", "group": "control"}).json()["results"][0]
    assert host["variables"]["ansible_become_password"] == BECOME
    assert REGISTRY in api.get("/api/clouds/vault/").json()["globals_yml"]
    assert CELL_SECRET in api.get("/api/cells/", {"cloud": "vault"}).content.decode()


@pytest.mark.parametrize("path", ["/clouds/vault/", "/clouds/vault/hosts/", "/clouds/vault/support/"])
def test_pages_do_not_show_secret_variables_to_viewers(client_as, viewer, secret_cloud, path):
    page = client_as(viewer).get(path)
    assert page.status_code == 200
    for secret in ALL_SECRETS:
        assert secret not in page.content.decode()


def test_job_output_redacts_secret_variables_of_inventory_and_globals(secret_cloud):
    secrets = set(cloud_context(secret_cloud).secrets)
    assert set(ALL_SECRETS) <= secrets
    # Configuration under ordinary names is not masked in the output.
    assert "registry.example.com" not in secrets and "kolla" not in secrets


def test_hidden_globals_never_leak_through_yaml_tricks(api_as, viewer, catalog):
    tricky = (
        "base: &creds {user: admin, password: Fl0w-Secret-xyz}\n"
        "copy: *creds\n"
        "ssh_key: |\n  -----BEGIN KEY-----\n  Bl0ck-Secret-abc\n  -----END KEY-----\n"
        "after: visible\n"
    )
    services.create_cloud(None, slug="tricky", globals_yml=tricky)
    body = api_as(viewer).get("/api/clouds/tricky/").json()["globals_yml"]
    assert "Fl0w-Secret-xyz" not in body and "Bl0ck-Secret-abc" not in body
    assert "visible" in body
