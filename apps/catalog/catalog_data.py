"""The catalog Ferry ships with: release series, Kolla images and the team's support tiers.

Releases follow openstack/releases and kolla-ansible's version mapping. The
image list and its support matrix are a starting point in the shape of Kolla's
support matrix (Tested / Untested / Not available per distro and arch); admins
edit both in the admin pages as Kolla's matrix moves.
"""

from __future__ import annotations

import datetime

from runner.kolla import KOLLA_MAJOR_BY_SERIES, SERIES_NAMES

# series and SLURP, oldest first (names come from runner.kolla.SERIES_NAMES, kolla-ansible majors
# from runner.kolla.KOLLA_MAJOR_BY_SERIES).
RELEASES: list[tuple[str, bool]] = [
    (series, series in {"2023.1", "2024.1", "2025.1", "2026.1", "2027.1"}) for series in SERIES_NAMES
]

_D = datetime.date.fromisoformat
# What openstack/releases' data/series_status.yaml said when this catalog was written:
# series: (initial release, status, next status, date of the next status, end of life).
# `python manage.py load_series_status` replaces these from a newer copy of that file.
LIFECYCLE: dict[str, tuple[datetime.date, str, str, datetime.date | None, datetime.date | None]] = {
    "2015.2": (_D("2015-10-15"), "eol", "", None, _D("2016-11-17")),
    "2016.1": (_D("2016-04-07"), "eol", "", None, _D("2017-04-10")),
    "2016.2": (_D("2016-10-06"), "eol", "", None, _D("2017-10-25")),
    "2017.1": (_D("2017-02-22"), "eol", "", None, _D("2021-06-15")),
    "2017.2": (_D("2017-08-30"), "eol", "", None, _D("2022-10-13")),
    "2018.1": (_D("2018-02-28"), "eol", "", None, _D("2023-01-18")),
    "2018.2": (_D("2018-08-30"), "eol", "", None, _D("2023-08-16")),
    "2019.1": (_D("2019-04-10"), "eol", "", None, _D("2024-01-04")),
    "2019.2": (_D("2019-10-16"), "eol", "", None, _D("2024-02-20")),
    "2020.1": (_D("2020-05-13"), "eol", "", None, _D("2024-02-20")),
    "2020.2": (_D("2020-10-14"), "eol", "", None, _D("2025-12-19")),
    "2021.1": (_D("2021-04-14"), "eol", "", None, _D("2025-12-19")),
    "2021.2": (_D("2021-10-06"), "eol", "", None, _D("2025-12-19")),
    "2022.1": (_D("2022-03-30"), "unmaintained", "eol", None, None),
    "2022.2": (_D("2022-10-05"), "unmaintained", "eol", None, None),
    "2023.1": (_D("2023-03-22"), "unmaintained", "eol", None, None),
    "2023.2": (_D("2023-10-04"), "eol", "", None, _D("2025-04-30")),
    "2024.1": (_D("2024-04-03"), "unmaintained", "eol", None, None),
    "2024.2": (_D("2024-10-02"), "eol", "", None, _D("2026-04-29")),
    "2025.1": (_D("2025-04-02"), "maintained", "unmaintained", _D("2026-10-02"), None),
    "2025.2": (_D("2025-10-01"), "maintained", "eol", _D("2027-04-28"), None),
    "2026.1": (_D("2026-04-01"), "maintained", "unmaintained", _D("2027-10-27"), None),
    "2026.2": (_D("2026-09-30"), "development", "maintained", _D("2026-09-30"), None),
    "2027.1": (_D("2027-03-24"), "future", "development", _D("2026-10-01"), None),
}


def lifecycle_fields(series: str) -> dict[str, object]:
    """The Release fields of ``series``' shipped life cycle (empty for a series not shipped)."""
    if series not in LIFECYCLE:
        return {}
    released, status, next_status, next_on, eol = LIFECYCLE[series]
    return {
        "released_on": released,
        "status": status,
        "next_status": next_status,
        "next_status_on": next_on,
        "eol_on": eol,
    }


# The distro release each Kolla series builds on, for image tags such as 2026.1-rocky-10.
DISTRO_VERSIONS: dict[str, dict[str, str]] = {
    "2023.1": {"rocky": "9", "ubuntu": "jammy", "debian": "bookworm"},
    "2023.2": {"rocky": "9", "ubuntu": "jammy", "debian": "bookworm"},
    "2024.1": {"rocky": "9", "ubuntu": "jammy", "debian": "bookworm"},
    "2024.2": {"rocky": "9", "ubuntu": "noble", "debian": "bookworm"},
    "2025.1": {"rocky": "9", "ubuntu": "noble", "debian": "bookworm"},
    "2025.2": {"rocky": "10", "ubuntu": "noble", "debian": "trixie"},
    "2026.1": {"rocky": "10", "ubuntu": "noble", "debian": "trixie"},
    "2026.2": {"rocky": "10", "ubuntu": "noble", "debian": "trixie"},
    "2027.1": {"rocky": "10", "ubuntu": "noble", "debian": "trixie"},
}

T, U, N = "tested", "untested", "not_available"
# image: (service, {(distro, arch): availability}); unspecified cells are Tested on
# x86_64 and Untested on aarch64.
_DEFAULT = {
    ("rocky", "x86_64"): T,
    ("ubuntu", "x86_64"): T,
    ("debian", "x86_64"): T,
    ("rocky", "aarch64"): U,
    ("ubuntu", "aarch64"): T,
    ("debian", "aarch64"): T,
}
IMAGES: dict[str, tuple[str, dict[tuple[str, str], str]]] = {
    "keystone": ("keystone", {}),
    "glance-api": ("glance", {}),
    "placement-api": ("placement", {}),
    "nova-api": ("nova", {}),
    "nova-scheduler": ("nova", {}),
    "nova-conductor": ("nova", {}),
    "nova-novncproxy": ("nova", {}),
    "nova-spicehtml5proxy": ("nova", {("rocky", "aarch64"): N}),
    "nova-serialproxy": ("nova", {("rocky", "aarch64"): N}),
    "nova-compute": ("nova", {}),
    "nova-compute-ironic": ("nova", {("rocky", "aarch64"): N, ("debian", "aarch64"): U}),
    "nova-libvirt": ("nova", {}),
    "nova-ssh": ("nova", {}),
    "neutron-server": ("neutron", {}),
    "neutron-openvswitch-agent": ("neutron", {}),
    "neutron-l3-agent": ("neutron", {}),
    "neutron-dhcp-agent": ("neutron", {}),
    "neutron-metadata-agent": ("neutron", {}),
    "neutron-ovn-metadata-agent": ("neutron", {}),
    "openvswitch-db-server": ("openvswitch", {}),
    "openvswitch-vswitchd": ("openvswitch", {}),
    "ovn-controller": ("ovn", {}),
    "ovn-northd": ("ovn", {}),
    "cinder-api": ("cinder", {}),
    "cinder-scheduler": ("cinder", {}),
    "cinder-volume": ("cinder", {}),
    "cinder-backup": ("cinder", {}),
    "heat-api": ("heat", {}),
    "heat-engine": ("heat", {}),
    "horizon": ("horizon", {}),
    "mariadb-server": ("mariadb", {}),
    "mariadb-clustercheck": ("mariadb", {}),
    "rabbitmq": ("rabbitmq", {}),
    "memcached": ("memcached", {}),
    "haproxy": ("haproxy", {}),
    "keepalived": ("keepalived", {}),
    "proxysql": ("proxysql", {}),
    "fluentd": ("fluentd", {}),
    "cron": ("cron", {}),
    "kolla-toolbox": ("kolla-toolbox", {}),
    "prometheus-server": ("prometheus", {}),
    "prometheus-node-exporter": ("prometheus", {}),
    "grafana": ("grafana", {("rocky", "aarch64"): U}),
    "opensearch": ("opensearch", {("rocky", "aarch64"): N}),
    "ironic-api": ("ironic", {("rocky", "aarch64"): N}),
    "ironic-conductor": ("ironic", {("rocky", "aarch64"): N}),
    "octavia-api": ("octavia", {("ubuntu", "aarch64"): U, ("debian", "aarch64"): U}),
    "octavia-worker": ("octavia", {("ubuntu", "aarch64"): U, ("debian", "aarch64"): U}),
    "designate-api": ("designate", {("ubuntu", "aarch64"): U, ("debian", "aarch64"): U}),
    "barbican-api": ("barbican", {("ubuntu", "aarch64"): U, ("debian", "aarch64"): U}),
    "magnum-api": ("magnum", {("rocky", "x86_64"): U, ("ubuntu", "aarch64"): U, ("debian", "aarch64"): N}),
    "skyline-apiserver": ("skyline", {("rocky", "aarch64"): N, ("debian", "aarch64"): U}),
}

# The seeds' three tiers: what "we maintain", what "we more or less care about", "the rest".
TIERS: list[tuple[str, int, bool, str]] = [
    ("maintained", 0, False, "Images, distros and features the team maintains and tests every release."),
    ("best effort", 1, False, "Kept working when it is cheap to do so; fixes come from whoever needs them."),
    ("unmaintained", 2, True, "Nobody looks after it; plan to move away from it."),
]
_CORE_SERVICES = [
    "keystone",
    "glance",
    "placement",
    "nova",
    "neutron",
    "openvswitch",
    "ovn",
    "cinder",
    "horizon",
    "mariadb",
    "rabbitmq",
    "memcached",
    "haproxy",
    "keepalived",
    "proxysql",
    "fluentd",
    "cron",
    "kolla-toolbox",
    "heat",
]
RULES: list[tuple[str, str, str]] = (
    [("service", name, "maintained") for name in _CORE_SERVICES]
    + [
        ("service", name, "best effort")
        for name in ("prometheus", "grafana", "octavia", "designate", "ironic")
    ]
    + [("service", name, "unmaintained") for name in ("magnum", "opensearch", "skyline", "barbican")]
    + [
        ("distro", "rocky", "maintained"),
        ("distro", "ubuntu", "maintained"),
        ("distro", "debian", "best effort"),
    ]
    + [("arch", "x86_64", "maintained"), ("arch", "aarch64", "best effort")]
    + [
        ("feature", "cells", "maintained"),
        ("feature", "ovn", "maintained"),
        ("feature", "octavia", "best effort"),
    ]
    + [("feature", "magnum", "unmaintained"), ("feature", "central_logging", "unmaintained")]
)


def availability_for(image: str) -> dict[tuple[str, str], str]:
    """The full distro × arch availability of ``image``."""
    return {**_DEFAULT, **IMAGES[image][1]}


def tag_for(series: str, distro: str) -> str | None:
    """The image tag of ``series`` on ``distro`` (``2026.1-rocky-10``), if Kolla builds it."""
    version = DISTRO_VERSIONS.get(series, {}).get(distro)
    return f"{series}-{distro}-{version}" if version else None


def load(apps) -> None:
    """Create the shipped catalog; existing rows are left as admins edited them."""
    Release = apps.get_model("catalog", "Release")
    Image = apps.get_model("catalog", "Image")
    ImageAvailability = apps.get_model("catalog", "ImageAvailability")
    ImageTag = apps.get_model("catalog", "ImageTag")
    SupportTier = apps.get_model("catalog", "SupportTier")
    SupportRule = apps.get_model("catalog", "SupportRule")

    releases = {}
    for position, (series, slurp) in enumerate(RELEASES, start=1):
        releases[series], _ = Release.objects.get_or_create(
            series=series,
            defaults={
                "name": SERIES_NAMES[series],
                "slurp": slurp,
                "kolla_ansible_major": KOLLA_MAJOR_BY_SERIES.get(series),
                "status": LIFECYCLE[series][1],
                "position": position * 10,
            },
        )
    for name, (service, _) in IMAGES.items():
        image, created = Image.objects.get_or_create(name=name, defaults={"service": service})
        if not created:
            continue
        ImageAvailability.objects.bulk_create(
            ImageAvailability(image=image, distro=distro, arch=arch, status=status)
            for (distro, arch), status in availability_for(name).items()
        )
        ImageTag.objects.bulk_create(
            ImageTag(image=image, release=releases[series], distro=distro, tag=tag_for(series, distro))
            for series, distros in DISTRO_VERSIONS.items()
            for distro in distros
        )
    tiers = {}
    for name, rank, flagged, description in TIERS:
        tiers[name], _ = SupportTier.objects.get_or_create(
            name=name, defaults={"rank": rank, "flagged": flagged, "description": description}
        )
    for subject_type, subject, tier in RULES:
        SupportRule.objects.get_or_create(
            subject_type=subject_type, subject=subject, defaults={"tier": tiers[tier]}
        )


def load_lifecycle(apps) -> None:
    """Give the shipped series their dates, and drop the kolla-ansible majors kolla-ansible never had."""
    Release = apps.get_model("catalog", "Release")
    for release in Release.objects.filter(series__in=list(LIFECYCLE)):
        for name, value in lifecycle_fields(release.series).items():
            setattr(release, name, value)
        release.kolla_ansible_major = KOLLA_MAJOR_BY_SERIES.get(release.series)
        release.save()
