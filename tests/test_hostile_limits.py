"""Hostile inventories, globals and requests: each is refused with a 4xx naming the field and the
reason, before it is parsed or stored, and changes nothing.

Every input here once gave a 500, crashed the web process or was stored wrong.
"""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEntry
from apps.clouds.models import Cell, Cloud, Host, InventoryGroup
from apps.jobs.models import Job
from apps.jobs.tests.factories import make_job

pytestmark = pytest.mark.django_db

IMPORT = "/api/clouds/demo/import-inventory/"
MiB = 2**20

CELL_INI = (
    "[control]\nctl01\n[cell1-compute]\nc1cmp01\n[cell1-control]\nc1ctl01\n"
    "[cell1:children]\ncell1-compute\ncell1-control\n[compute:children]\ncell1-compute\n"
)
BOMB = (  # 235 bytes: six levels of ten aliases each, 10**6 strings once expanded
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)


def _file(name: str, data: bytes | str) -> io.BytesIO:
    upload = io.BytesIO(data.encode() if isinstance(data, str) else data)
    upload.name = name
    return upload


def _zip(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def _cell_archive(cell_name: str) -> bytes:
    return _zip(
        {
            "inv/multinode": CELL_INI,
            "inv/group_vars/cell1": f"nova_cell_name: {cell_name}\nnova_cell_compute_group: cell1-compute\n",
        }
    )


def _zip_bomb(unpacked: int) -> bytes:
    """A zip of one member of ``unpacked`` zero bytes, written without holding it in memory."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("inv/multinode", "w", force_zip64=True) as member,
    ):
        for _ in range(unpacked // MiB):
            member.write(b"\0" * MiB)
    return out.getvalue()


def _tar_bomb(unpacked: int) -> bytes:
    class Zeros(io.RawIOBase):
        def __init__(self, size: int):
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            n = min(len(buffer), self.left)
            buffer[:n] = b"\0" * n
            self.left -= n
            return n

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=9) as tf:
        info = tarfile.TarInfo("inv/multinode")
        info.size = unpacked
        tf.addfile(info, io.BufferedReader(Zeros(unpacked)))
    return out.getvalue()


def _damaged_xz_tar() -> bytes:
    """A ``.tar`` holding an inventory, compressed with xz and damaged halfway: tarfile recognises
    the compression and fails only while reading the members, with an LZMAError (no OSError)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tf:
        members = {"inv/multinode": b"[control]\nctl01\n"}
        members |= {f"inv/host_vars/h{i}": random.Random(i).randbytes(20_000) for i in range(5)}
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    packed = out.getvalue()
    cut = len(packed) // 2
    return packed[:cut] + bytes(b ^ 0xFF for b in packed[cut : cut + 64]) + packed[cut + 64 :]


def _chain(depth: int, *, deepest_first: bool = True) -> str:
    """Groups g0 … g<depth-1>, each the child of the next; either g0 or the outermost group first."""
    sections = [["[g0]", "h0"]] + [[f"[g{i}:children]", f"g{i - 1}"] for i in range(1, depth)]
    if not deepest_first:
        sections.reverse()
    return "\n".join(line for section in sections for line in section) + "\n"


def _nested(depth: int) -> str:
    return "a: " + "{a: " * depth + "1" + "}" * depth + "\n"


Files = Callable[[], dict[str, io.BytesIO]]
# (files of the upload, field named, fragments of the message)
INVENTORY_CASES: dict[str, tuple[Files, str, list[str]]] = {
    "host-name-300": (
        lambda: {"inventory": _file("multinode", "[control]\n" + "h" * 300 + "\n")},
        "inventory",
        ["host name", "255"],
    ),
    "ansible-host-300": (
        lambda: {"inventory": _file("multinode", "[control]\nctl01 ansible_host=" + "a" * 300 + "\n")},
        "inventory",
        ["ansible_host", "255"],
    ),
    "group-name-200": (
        lambda: {"inventory": _file("multinode", "[" + "g" * 200 + "]\nctl01\n")},
        "inventory",
        ["group name", "128"],
    ),
    "nova-cell-name-100": (
        lambda: {"inventory": _file("inv.zip", _cell_archive("c" * 100))},
        "inventory",
        ["nova_cell_name", "59"],
    ),
    "nova-cell-name-not-a-name": (
        lambda: {"inventory": _file("inv.zip", _cell_archive("Bad_Cell!"))},
        "inventory",
        ["nova_cell_name", "Bad_Cell!"],
    ),
    "nul-in-host-name": (
        lambda: {"inventory": _file("multinode", "[control]\nct\0l01\n")},
        "inventory",
        ["NUL"],
    ),
    "nul-in-host-value": (
        lambda: {"inventory": _file("multinode", "[control]\nctl01 x=a\0b\n")},
        "inventory",
        ["NUL"],
    ),
    "nul-in-group-vars": (
        lambda: {
            "inventory": _file(
                "inv.zip",
                _zip({"inv/multinode": "[control]\nctl01\n", "inv/group_vars/control": 'x: "a\\0b"\n'}),
            )
        },
        "inventory",
        ["NUL"],
    ),
    "nul-in-globals": (
        lambda: {
            "inventory": _file("multinode", "[control]\nctl01\n"),
            "globals": _file("globals.yml", "a: b\0c\n"),
        },
        "globals",
        ["NUL"],
    ),
    "children-chain-3000": (lambda: {"inventory": _file("multinode", _chain(3000))}, "inventory", ["groups"]),
    "children-chain-3000-outermost-first": (
        lambda: {"inventory": _file("multinode", _chain(3000, deepest_first=False))},
        "inventory",
        ["groups"],
    ),
    "children-chain-100": (
        lambda: {"inventory": _file("multinode", _chain(100))},
        "inventory",
        ["levels deep"],
    ),
    "globals-not-utf8": (
        lambda: {
            "inventory": _file("multinode", "[control]\nctl01\n"),
            "globals": _file("globals.yml", b"a: \xff\xfe\n"),
        },
        "globals",
        ["UTF-8"],
    ),
    "globals-nested-20000": (
        lambda: {
            "inventory": _file("multinode", "[control]\nctl01\n"),
            "globals": _file("globals.yml", _nested(20000)),
        },
        "globals",
        ["deep"],
    ),
    "group-vars-50000-brackets": (
        lambda: {
            "inventory": _file(
                "inv.zip",
                _zip(
                    {
                        "inv/multinode": "[control]\nctl01\n",
                        "inv/group_vars/control": "x: " + "[" * 50000 + "]" * 50000,
                    }
                ),
            )
        },
        "inventory",
        ["deep"],
    ),
    "group-vars-date": (
        lambda: {
            "inventory": _file(
                "inv.zip",
                _zip({"inv/multinode": "[control]\nctl01\n", "inv/group_vars/control": "x: 2024-01-01\n"}),
            )
        },
        "inventory",
        ["group_vars/control", "x is a date"],
    ),
    "host-vars-nan": (
        lambda: {
            "inventory": _file(
                "inv.zip", _zip({"inv/multinode": "[control]\nctl01\n", "inv/host_vars/ctl01": "x: [.nan]\n"})
            )
        },
        "inventory",
        ["host_vars/ctl01", "x[0] is nan"],
    ),
    "group-vars-alias-bomb": (
        lambda: {
            "inventory": _file(
                "inv.zip", _zip({"inv/multinode": "[control]\nctl01\n", "inv/group_vars/control": BOMB})
            )
        },
        "inventory",
        ["alias"],
    ),
    "globals-alias-bomb": (
        lambda: {
            "inventory": _file("multinode", "[control]\nctl01\n"),
            "globals": _file("globals.yml", BOMB),
        },
        "globals",
        ["alias"],
    ),
    "groups-each-holding-every-host": (
        lambda: {
            "inventory": _file(
                "multinode",
                "[big]\na[0000:4999]\nb[0000:4999]\n"
                + "".join(f"[g{i}:children]\nbig\n" for i in range(1999)),
            )
        },
        "inventory",
        ["2,000,000"],
    ),
    "junk-without-groups": (
        lambda: {"inventory": _file("multinode", "lorem-ipsum-dolor-sit-amet\n")},
        "inventory",
        ["no groups"],
    ),
    "host-range-100001": (
        lambda: {"inventory": _file("multinode", "[compute]\nh[0:100000]\n")},
        "inventory",
        ["h[0:100000]", "100,001"],
    ),
    "zip-bomb-200-mib": (
        lambda: {"inventory": _file("inv.zip", _zip_bomb(200 * MiB))},
        "inventory",
        ["unpack"],
    ),
    "tar-bomb-200-mib": (
        lambda: {"inventory": _file("inv.tar.gz", _tar_bomb(200 * MiB))},
        "inventory",
        ["unpack"],
    ),
    # A compressed stream that breaks while its members are read: an LZMAError was a 500.
    "tar-xz-damaged": (
        lambda: {"inventory": _file("inv.tar", _damaged_xz_tar())},
        "inventory",
        ["not a readable tar archive"],
    ),
    "zip-of-20000-members": (
        lambda: {"inventory": _file("inv.zip", _zip({f"inv/host_vars/h{i}": "" for i in range(20000)}))},
        "inventory",
        ["members"],
    ),
}


def _state(cloud: Cloud) -> tuple:
    """Everything an import or a cloud change could touch."""
    return (
        Cloud.objects.filter(pk=cloud.pk).values().get(),
        list(
            Host.objects.filter(cloud=cloud)
            .order_by("pk")
            .values_list("name", "address", "variables", "host_vars")
        ),
        list(
            InventoryGroup.objects.filter(cloud=cloud)
            .order_by("pk")
            .values_list("name", "children", "group_vars")
        ),
        list(Cell.objects.filter(cloud=cloud).order_by("pk").values_list("name", "group", "variables")),
        AuditEntry.objects.count(),
        Cloud.objects.count(),
    )


def _messages(body: dict, field: str) -> str:
    assert field in body, body
    return " ".join(str(m) for m in body[field])


def test_a_good_cell_archive_imports(api_as, admin_user, demo_cloud):
    """The archives below differ from this one only in what makes them hostile."""
    response = api_as(admin_user).post(
        IMPORT, {"inventory": _file("inv.zip", _cell_archive("cell1"))}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["cells"] == ["cell1"]


@pytest.mark.parametrize("case", INVENTORY_CASES, ids=list(INVENTORY_CASES))
def test_hostile_inventory_upload_is_refused_and_changes_nothing(api_as, admin_user, demo_cloud, case):
    files, field, fragments = INVENTORY_CASES[case]
    before = _state(demo_cloud)
    response = api_as(admin_user).post(IMPORT, files(), format="multipart")
    assert response.status_code == 400, response.content[:500]
    message = _messages(response.json(), field)
    for fragment in fragments:
        assert fragment in message, message
    assert _state(demo_cloud) == before


@pytest.mark.parametrize(
    "case",
    [c for c in INVENTORY_CASES if not c.startswith(("zip-", "tar-"))],
)
def test_hostile_inventory_is_refused_by_the_import_command(demo_cloud, tmp_path, case):
    files, _, fragments = INVENTORY_CASES[case]
    uploads = files()
    inventory = uploads["inventory"]
    if inventory.name.endswith(".zip"):
        with zipfile.ZipFile(inventory) as zf:
            zf.extractall(tmp_path)
        path = tmp_path / "inv"
    else:
        path = tmp_path / "multinode"
        path.write_bytes(inventory.getvalue())
    args = [str(path), "--cloud", "demo"]
    if "globals" in uploads:
        (tmp_path / "globals.yml").write_bytes(uploads["globals"].getvalue())
        args += ["--globals", str(tmp_path / "globals.yml")]
    before = _state(demo_cloud)
    with pytest.raises(CommandError) as refused:
        call_command("import_kolla_inventory", *args)
    for fragment in fragments:
        assert fragment in str(refused.value)
    assert _state(demo_cloud) == before


def test_hostile_inventory_is_refused_by_the_upload_page(client_as, admin_user, demo_cloud):
    client = client_as(admin_user)  # logging in is audited: before the snapshot
    before = _state(demo_cloud)
    files = INVENTORY_CASES["group-vars-50000-brackets"][0]()
    response = client.post("/clouds/demo/import/", {**files, "confirm": "on"})
    assert response.status_code == 400
    assert "nested deeper than" in response.content.decode()
    assert _state(demo_cloud) == before


CLOUD_CASES: dict[str, tuple[dict, str, list[str]]] = {
    "globals-nested-20000": ({"globals_yml": _nested(20000)}, "globals_yml", ["deep"]),
    "globals-50000-brackets": ({"globals_yml": "x: " + "[" * 50000 + "]" * 50000}, "globals_yml", ["deep"]),
    "globals-alias-bomb": ({"globals_yml": BOMB}, "globals_yml", ["alias"]),
    "globals-nul": ({"globals_yml": "a: b\0c\n"}, "globals_yml", ["ull"]),
    "passwords-alias-bomb": ({"passwords_yml": BOMB}, "passwords_yml", ["alias"]),
    "distro-version-shell": ({"distro_version": "9;rm -rf"}, "distro_version", ["letters"]),
}


@pytest.mark.parametrize("case", CLOUD_CASES, ids=list(CLOUD_CASES))
def test_hostile_cloud_change_is_refused_and_changes_nothing(api_as, admin_user, demo_cloud, case):
    data, field, fragments = CLOUD_CASES[case]
    before = _state(demo_cloud)
    response = api_as(admin_user).patch("/api/clouds/demo/", data, format="json")
    assert response.status_code == 400, response.content[:500]
    message = _messages(response.json(), field)
    for fragment in fragments:
        assert fragment in message, message
    assert _state(demo_cloud) == before


@pytest.mark.parametrize("case", CLOUD_CASES, ids=list(CLOUD_CASES))
def test_hostile_cloud_is_not_created(api_as, admin_user, catalog, case):
    data, field, _ = CLOUD_CASES[case]
    response = api_as(admin_user).post("/api/clouds/", {"slug": "north", **data}, format="json")
    assert response.status_code == 400, response.content[:500]
    assert field in response.json()
    assert not Cloud.objects.exists()


def test_request_body_over_the_limit_gets_413_naming_the_limit(api_as, admin_user, demo_cloud, settings):
    before = _state(demo_cloud)
    body = {"globals_yml": "a: " + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + "\n"}
    response = api_as(admin_user).patch("/api/clouds/demo/", body, format="json")
    assert response.status_code == 413
    assert "FERRY_MAX_BODY_BYTES" in response.json()["detail"]
    assert _state(demo_cloud) == before


def test_upload_over_the_limit_gets_413_naming_the_limit(api_as, admin_user, demo_cloud, settings):
    """20 MB of junk once replaced a cloud's inventory with one host and no groups."""
    before = _state(demo_cloud)
    junk = b"j" * (20 * 10**6)
    response = api_as(admin_user).post(IMPORT, {"inventory": _file("multinode", junk)}, format="multipart")
    assert response.status_code == 413
    assert "FERRY_MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert _state(demo_cloud) == before


@pytest.fixture
def job(demo_cloud, operator):
    return make_job(demo_cloud, operator)


def _jobs() -> list:
    return list(Job.objects.order_by("pk").values_list("pk", "state", "attempt"))


@pytest.mark.parametrize(
    ("method", "url", "status", "field", "fragment"),
    [
        ("get", "/api/jobs/{job}/events/?limit=0", 400, "limit", "between 1 and"),
        ("get", "/api/jobs/{job}/events/?limit=-3", 400, "limit", "between 1 and"),
        ("get", "/api/jobs/{job}/events/?after=" + "9" * 30, 400, "after", "at most"),
        ("get", "/api/jobs/abc/events/", 404, "detail", "abc"),
        ("get", "/api/jobs/abc/", 404, "detail", "abc"),
        ("post", "/api/jobs/abc/cancel/", 404, "detail", "abc"),
        ("post", "/api/jobs/abc/resume/", 404, "detail", "abc"),
        ("get", "/api/jobs/" + "9" * 30 + "/", 404, "detail", "999"),
        ("get", "/api/hosts/?name=%00", 400, "detail", "NUL"),
    ],
)
def test_bad_api_request_gets_a_4xx_naming_the_reason(
    api_as, operator, job, method, url, status, field, fragment
):
    before = _jobs()
    response = getattr(api_as(operator), method)(url.format(job=job.pk))
    assert response.status_code == status, response.content[:500]
    assert fragment in str(response.json()[field])
    assert _jobs() == before


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/catalog/releases/%00/", 400),
        ("/catalog/images/%00/", 400),
        ("/clouds/demo/hosts/?q=%00", 400),
        ("/jobs/?cloud=%00", 400),
    ],
)
def test_page_with_a_nul_byte_in_the_url_gets_400(client_as, viewer, demo_cloud, url, status):
    response = client_as(viewer).get(url)
    assert response.status_code == status
    assert b"NUL" in response.content
