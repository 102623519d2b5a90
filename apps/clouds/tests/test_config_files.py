"""A cloud's configuration files: safe paths, secrets encrypted and hidden, limits, audit, import."""

from __future__ import annotations

import io
import tarfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st

from apps.audit.models import AuditEntry
from apps.clouds import files, services
from apps.clouds.models import CloudFile

pytestmark = pytest.mark.django_db

KEYRING = b"[client.nova]\n\tkey = AQBxPlainKeyringSecretValue==\n"
PRIVATE_KEY = (
    b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n-----END PRIVATE KEY-----\n"
)
NOVA_CONF = b"[DEFAULT]\ndebug = True\n[database]\nconnection = mysql+pymysql://nova:Db-Url-Pass@db/nova\n"


def tarball(members: dict[str, bytes], *, links: dict[str, str] | None = None, name="kolla.tar.gz"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(path)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/gzip")


@pytest.mark.parametrize(
    ("area", "path", "words"),
    [
        ("config", "/etc/passwd", "not absolute"),
        ("config", "nova/../../passwords.yml", "no .. parts"),
        ("config", "..", "no .. parts"),
        ("config", "nova//nova.conf", "empty"),
        ("config", "nova/", "empty"),
        ("config", "nova\0.conf", "NUL"),
        ("config", "nova\n.conf", "printable"),
        ("config", " nova.conf", "printable"),
        ("config", "a\\b", "backslash"),
        ("config", "x" * 300, "at most 255"),
        ("certificates", "", "is empty"),
        ("globals.d", "tls.yaml", "only *.yml"),
        ("globals.d", "sub/tls.yml", "only *.yml"),
        ("elsewhere", "nova.conf", "must be one of"),
    ],
)
def test_unsafe_paths_are_refused_naming_the_field(area, path, words):
    with pytest.raises(ValidationError) as caught:
        files.check_path(area, path)
    (field, messages), *_ = caught.value.message_dict.items()
    assert field in {"path", "area"} and words in " ".join(messages)


@given(st.text(min_size=1, max_size=80))
def test_an_accepted_path_stays_inside_its_area(path):
    try:
        files.check_path("config", path)
    except ValidationError:
        return
    parts = path.split("/")
    assert not path.startswith("/") and ".." not in parts and "" not in parts and "\0" not in path


def test_secret_files_are_encrypted_at_rest_and_audited_by_digest_only(demo_cloud, admin_user):
    keyring = files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    key = files.put_file(admin_user, demo_cloud, "certificates", "haproxy.pem", b"cert\n" + PRIVATE_KEY)
    conf = files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    assert keyring.secret and key.secret and not conf.secret
    stored = CloudFile.objects.get(pk=keyring.pk)
    assert bytes(stored.content) == b"" and b"AQBx" not in stored.content_encrypted.encode()
    assert files.file_content(stored) == KEYRING and stored.size == len(KEYRING)
    assert bytes(CloudFile.objects.get(pk=conf.pk).content) == NOVA_CONF
    entries = AuditEntry.objects.filter(action="cloud.file.put", cloud_slug="demo")
    assert entries.count() == 3
    audit = str(list(entries.values_list("detail", flat=True)))
    assert "config/nova/ceph.client.nova.keyring" in audit and keyring.sha256 in audit
    assert "AQBxPlainKeyringSecretValue" not in audit and "PRIVATE KEY" not in audit


def test_replacing_with_the_same_content_changes_nothing_and_a_new_one_records_both_digests(
    demo_cloud, admin_user
):
    first = files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    assert AuditEntry.objects.filter(action="cloud.file.put").count() == 1
    second = files.put_file(admin_user, demo_cloud, "config", "nova.conf", b"[DEFAULT]\n")
    assert second.pk == first.pk
    detail = AuditEntry.objects.filter(action="cloud.file.put").latest("id").detail
    assert detail["before_sha256"] == first.sha256 and detail["sha256"] == second.sha256


def test_limits_on_size_count_and_globals_d_content(demo_cloud, admin_user, settings):
    settings.FERRY_MAX_CLOUD_FILE_BYTES = 1024
    settings.FERRY_MAX_CLOUD_FILES = 2
    with pytest.raises(ValidationError, match="FERRY_MAX_CLOUD_FILE_BYTES"):
        files.put_file(admin_user, demo_cloud, "config", "big.conf", b"x" * 1025)
    with pytest.raises(ValidationError, match="not valid YAML"):
        files.put_file(admin_user, demo_cloud, "globals.d", "bad.yml", b"a: [\n")
    with pytest.raises(ValidationError, match="YAML mapping"):
        files.put_file(admin_user, demo_cloud, "globals.d", "list.yml", b"- a\n")
    files.put_file(admin_user, demo_cloud, "config", "a.conf", b"a")
    files.put_file(admin_user, demo_cloud, "config", "b.conf", b"b")
    with pytest.raises(ValidationError, match="FERRY_MAX_CLOUD_FILES"):
        files.put_file(admin_user, demo_cloud, "config", "c.conf", b"c")
    assert demo_cloud.files.count() == 2
    settings.FERRY_MAX_CLOUD_FILES = 10
    with pytest.raises(ValidationError, match=r"needs a\.conf to be a directory"):
        files.put_file(admin_user, demo_cloud, "config", "a.conf/x", b"x")


def test_file_secrets_are_masked_in_job_output_and_change_the_plan_revision(demo_cloud, admin_user):
    before = services.config_revision(demo_cloud)
    files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    files.put_file(
        admin_user, demo_cloud, "globals.d", "50-registry.yml", b"docker_registry_password: Reg-Pa55\n"
    )
    values = services.secret_values(demo_cloud)
    assert {"AQBxPlainKeyringSecretValue==", "Db-Url-Pass", "Reg-Pa55"} <= set(values)
    assert services.config_revision(demo_cloud) != before


def test_delete_is_audited(demo_cloud, admin_user):
    cloud_file = files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    files.delete_file(admin_user, demo_cloud, cloud_file)
    assert not demo_cloud.files.exists()
    detail = AuditEntry.objects.get(action="cloud.file.delete").detail
    assert detail == {"path": "config/nova.conf", "sha256": cloud_file.sha256, "secret": False}


def test_import_of_a_kolla_tree_replaces_files_and_globals(demo_cloud, admin_user):
    files.put_file(admin_user, demo_cloud, "config", "old.conf", b"old")
    upload = tarball(
        {
            "etc/kolla/globals.yml": b"kolla_base_distro: rocky\nenable_mariabackup: 'yes'\n",
            "etc/kolla/globals.d/50-tls.yml": b"kolla_enable_tls_external: 'yes'\n",
            "etc/kolla/config/nova.conf": NOVA_CONF,
            "etc/kolla/config/nova/ceph.client.nova.keyring": KEYRING,
            "etc/kolla/certificates/haproxy.pem": b"cert\n" + PRIVATE_KEY,
            "etc/kolla/certificates/ca/root.crt": b"-----BEGIN CERTIFICATE-----\n",
            "etc/kolla/multinode": b"[control]\n",
        }
    )
    result = files.import_config_tree(admin_user, demo_cloud, upload)
    assert sorted(result.added) == [
        "certificates/ca/root.crt",
        "certificates/haproxy.pem",
        "config/nova.conf",
        "config/nova/ceph.client.nova.keyring",
        "globals.d/50-tls.yml",
    ]
    assert result.removed == ["config/old.conf"] and result.skipped == ["multinode"]
    assert result.globals_yml and not result.passwords_yml
    demo_cloud.refresh_from_db()
    assert demo_cloud.globals_yml.startswith("kolla_base_distro: rocky")
    secret = {f.relative_path for f in demo_cloud.files.filter(secret=True)}
    assert secret == {"config/nova/ceph.client.nova.keyring", "certificates/haproxy.pem"}
    audit = AuditEntry.objects.get(action="cloud.files.import").detail
    assert audit["skipped"] == ["multinode"] and "AQBx" not in str(audit)


@pytest.mark.parametrize(
    ("members", "links", "words"),
    [
        ({"kolla/config/nova.conf": b"x", "kolla/config/../../evil": b"x"}, None, "kolla/config/../../evil"),
        ({"/etc/kolla/config/nova.conf": b"x"}, None, "points outside"),
        ({"kolla/config/nova.conf": b"x"}, {"kolla/config/passwd": "/etc/passwd"}, "kolla/config/passwd"),
        ({"kolla/globals.d/tls.yaml": b"a: 1\n"}, None, "kolla/globals.d/tls.yaml"),
        ({"kolla/globals.d/bad.yml": b"a: [\n"}, None, "kolla/globals.d/bad.yml"),
        ({"kolla/config/big.conf": b"x" * 2049}, None, "kolla/config/big.conf"),
        ({"kolla/passwords.yml": b"- not a mapping\n"}, None, "passwords.yml"),
    ],
)
def test_a_bad_member_refuses_the_whole_import_naming_it(
    demo_cloud, admin_user, settings, members, links, words
):
    settings.FERRY_MAX_CLOUD_FILE_BYTES = 2048
    files.put_file(admin_user, demo_cloud, "config", "kept.conf", b"kept")
    globals_before = demo_cloud.globals_yml
    upload = tarball({"kolla/globals.yml": b"changed: true\n", **members}, links=links)
    with pytest.raises(ValidationError) as caught:
        files.import_config_tree(admin_user, demo_cloud, upload)
    assert words in " ".join(caught.value.message_dict["archive"])
    demo_cloud.refresh_from_db()
    assert demo_cloud.globals_yml == globals_before
    assert [f.relative_path for f in demo_cloud.files.all()] == ["config/kept.conf"]
    assert not AuditEntry.objects.filter(action__in=["cloud.files.import", "cloud.update"]).exists()


def test_an_archive_over_the_unpack_limit_or_not_a_tarball_is_refused(demo_cloud, admin_user, settings):
    settings.FERRY_MAX_UNPACKED_BYTES = 2**16
    settings.FERRY_MAX_CLOUD_FILE_BYTES = 2**16
    many = {f"kolla/config/f{i}.conf": b"x" * 30_000 for i in range(3)}
    with pytest.raises(ValidationError, match="FERRY_MAX_UNPACKED_BYTES"):
        files.import_config_tree(admin_user, demo_cloud, tarball(many))
    with pytest.raises(ValidationError, match=r"must be a \.tar\.gz"):
        files.import_config_tree(admin_user, demo_cloud, SimpleUploadedFile("kolla.zip", b"PK"))
    with pytest.raises(ValidationError, match="not a readable tar archive"):
        files.import_config_tree(admin_user, demo_cloud, SimpleUploadedFile("kolla.tar.gz", b"nonsense"))
    from tests.test_hostile_limits import _damaged_xz_tar

    with pytest.raises(ValidationError, match="not a readable tar archive"):  # an LZMAError was a 500
        files.import_config_tree(admin_user, demo_cloud, SimpleUploadedFile("kolla.tar", _damaged_xz_tar()))
    assert not demo_cloud.files.exists()


# --- API -----------------------------------------------------------------------------------------


def test_api_lists_files_and_hides_secret_content_from_non_admins(api_as, viewer, admin_user, demo_cloud):
    keyring = files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    conf = files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    api = api_as(viewer)
    listed = api.get("/api/clouds/demo/files/").json()
    assert [(f["relative_path"], f["secret"]) for f in listed] == [
        ("config/nova.conf", False),
        ("config/nova/ceph.client.nova.keyring", True),
    ]
    assert listed[1]["sha256"] == keyring.sha256 and "content" not in listed[1]
    secret = api.get(f"/api/clouds/demo/files/{keyring.pk}/").json()
    assert secret["content"] is None and secret["content_hidden"] is True
    plain = api.get(f"/api/clouds/demo/files/{conf.pk}/").json()
    assert "Db-Url-Pass" not in plain["content"] and "debug = True" in plain["content"]
    admin = api_as(admin_user).get(f"/api/clouds/demo/files/{keyring.pk}/").json()
    assert admin["content"] == KEYRING.decode()


def test_api_writes_need_the_admin_role(api_as, operator, demo_cloud):
    api = api_as(operator)
    response = api.post("/api/clouds/demo/files/", {"area": "config", "path": "a.conf", "content": "x"})
    assert response.status_code == 403
    assert not demo_cloud.files.exists()


def test_api_admin_adds_replaces_imports_and_deletes(api_as, admin_user, demo_cloud):
    api = api_as(admin_user)
    upload = SimpleUploadedFile("k", KEYRING)
    response = api.post(
        "/api/clouds/demo/files/",
        {"area": "config", "path": "glance/ceph.client.glance.keyring", "file": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["secret"] is True
    response = api.post(
        "/api/clouds/demo/files/", {"area": "config", "path": "../x", "content": "x"}, format="json"
    )
    assert response.status_code == 400 and "path" in response.json()
    response = api.post(
        "/api/clouds/demo/files/import/",
        {"archive": tarball({"kolla/config/nova.conf": NOVA_CONF})},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["added"] == ["config/nova.conf"] and body["removed"] == [
        "config/glance/ceph.client.glance.keyring"
    ]
    (only,) = demo_cloud.files.all()
    assert api.delete(f"/api/clouds/demo/files/{only.pk}/").status_code == 204
    assert not demo_cloud.files.exists()


def test_api_import_names_the_bad_member(api_as, admin_user, demo_cloud):
    response = api_as(admin_user).post(
        "/api/clouds/demo/files/import/",
        {"archive": tarball({"kolla/config/nova.conf": b"x"}, links={"kolla/config/l": "/etc/shadow"})},
        format="multipart",
    )
    assert response.status_code == 400
    assert "kolla/config/l" in str(response.json()["archive"])


# --- pages ---------------------------------------------------------------------------------------


def test_page_lists_files_with_secret_mark_and_viewer_gets_no_form(client_as, viewer, admin_user, demo_cloud):
    files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    page = client_as(viewer).get("/clouds/demo/files/")
    html = page.content.decode()
    assert page.status_code == 200 and "nova/ceph.client.nova.keyring" in html and ">secret<" in html
    assert "Save file" not in html and "AQBx" not in html
    assert client_as(viewer).post("/clouds/demo/files/", {"area": "config"}).status_code == 403


def test_page_upload_then_delete_with_confirmation(client_as, admin_user, demo_cloud):
    client = client_as(admin_user)
    response = client.post(
        "/clouds/demo/files/",
        {"area": "certificates", "path": "ca/root.crt", "file": SimpleUploadedFile("root.crt", b"CERT")},
    )
    assert response.status_code == 302
    cloud_file = demo_cloud.files.get()
    bad = client.post(
        "/clouds/demo/files/", {"area": "config", "path": "/abs", "file": SimpleUploadedFile("a", b"x")}
    )
    assert bad.status_code == 400 and "not absolute" in bad.content.decode()
    confirm = client.get(f"/clouds/demo/files/{cloud_file.pk}/delete/")
    assert confirm.status_code == 200 and "certificates/ca/root.crt" in confirm.content.decode()
    assert demo_cloud.files.exists()
    assert client.post(f"/clouds/demo/files/{cloud_file.pk}/delete/").status_code == 302
    assert not demo_cloud.files.exists()


def test_page_import_refuses_without_confirmation_and_imports_with_it(client_as, admin_user, demo_cloud):
    client = client_as(admin_user)
    archive = tarball({"kolla/config/nova.conf": NOVA_CONF})
    assert client.post("/clouds/demo/files/import/", {"archive": archive}).status_code == 400
    archive = tarball({"kolla/config/nova.conf": NOVA_CONF})
    response = client.post("/clouds/demo/files/import/", {"archive": archive, "confirm": "on"})
    assert response.status_code == 302
    assert [f.relative_path for f in demo_cloud.files.all()] == ["config/nova.conf"]


def test_a_jobs_runner_context_carries_the_files_decrypted(demo_cloud, admin_user):
    from apps.jobs.execution import cloud_context

    files.put_file(admin_user, demo_cloud, "config", "nova/ceph.client.nova.keyring", KEYRING)
    files.put_file(admin_user, demo_cloud, "globals.d", "50-tls.yml", b"kolla_enable_tls_external: 'yes'\n")
    context = cloud_context(demo_cloud)
    assert [(f.area, f.path, f.content, f.secret) for f in context.files] == [
        ("config", "nova/ceph.client.nova.keyring", KEYRING, True),
        ("globals.d", "50-tls.yml", b"kolla_enable_tls_external: 'yes'\n", False),
    ]
    assert "AQBxPlainKeyringSecretValue==" in context.secrets


def test_plan_preview_hash_follows_the_files(demo_cloud, admin_user):
    from apps.jobs.preview import plan_preview

    before = plan_preview(demo_cloud, "deploy", {})["hash"]
    files.put_file(admin_user, demo_cloud, "config", "nova.conf", NOVA_CONF)
    assert plan_preview(demo_cloud, "deploy", {})["hash"] != before


def test_api_file_list_takes_a_bounded_number_of_queries(
    api_as, viewer, admin_user, demo_cloud, django_assert_max_num_queries
):
    for i in range(20):
        files.put_file(admin_user, demo_cloud, "config", f"nova/n{i}.conf", b"[DEFAULT]\n")
    api = api_as(viewer)
    with django_assert_max_num_queries(8):
        listed = api.get("/api/clouds/demo/files/").json()
    assert len(listed) == 20 and listed[0]["updated_by"] == "ada-admin"
