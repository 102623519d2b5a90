"""Support reports: everything a cloud runs, with its support tier and what to worry about."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from apps.catalog.models import Image, ImageAvailability, SubjectType, SupportRule, SupportTier
from apps.clouds.inventory_stats import hosts_per_group
from apps.clouds.models import Cloud
from runner.yamlguard import YamlLimitError, load_yaml

TRUTHY = {"yes", "true", "on", "1", True}


@dataclass
class SupportLine:
    """One row of a support report."""

    kind: str
    subject: str
    tier: SupportTier | None
    availability: str = ""
    hosts: int | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def enabled_features(cloud: Cloud) -> list[str]:
    """Kolla features switched on in the cloud's globals.yml (``enable_octavia: "yes"`` → octavia)."""
    try:
        # Globals stored before their limits were checked may still be too deep or an alias bomb.
        data = load_yaml(cloud.globals_yml) or {}
    except (yaml.YAMLError, YamlLimitError):
        return []
    if not isinstance(data, dict):
        return []
    features = {
        key.removeprefix("enable_")
        for key, value in data.items()
        if isinstance(key, str)
        and key.startswith("enable_")
        and (value in TRUTHY or str(value).lower() in TRUTHY)
    }
    if cloud.cells.exists():
        features.add("cells")
    return sorted(features)


def support_report(cloud: Cloud) -> list[SupportLine]:
    """The release, distro, arch, features and images of ``cloud``, each with its tier and flags."""
    rules = {(r.subject_type, r.subject): r.tier for r in SupportRule.objects.select_related("tier")}
    lines: list[SupportLine] = []

    release = cloud.release
    if release is not None:
        flags = [] if release.is_supported else [f"release is {release.current_status_label}"]
        lines.append(SupportLine("release", str(release), None, flags=flags))

    for kind, subject in ((SubjectType.DISTRO, cloud.distro), (SubjectType.ARCH, cloud.arch)):
        tier = rules.get((kind, subject))
        lines.append(SupportLine(kind.value, subject, tier, flags=_tier_flags(tier)))

    for feature in enabled_features(cloud):
        tier = rules.get((SubjectType.FEATURE, feature))
        lines.append(SupportLine("feature", feature, tier, flags=_tier_flags(tier)))

    counts = hosts_per_group(cloud)
    images = Image.objects.filter(name__in=[g for g, n in counts.items() if n]).order_by("name")
    availability = dict(
        ImageAvailability.objects.filter(image__in=images, distro=cloud.distro, arch=cloud.arch).values_list(
            "image__name", "status"
        )
    )
    labels = dict(ImageAvailability._meta.get_field("status").choices)
    for image in images:
        tier = rules.get((SubjectType.IMAGE, image.name)) or rules.get((SubjectType.SERVICE, image.service))
        status = availability.get(image.name, "not_available")
        flags = _tier_flags(tier)
        if status == "not_available":
            flags.append(f"not available on {cloud.distro}/{cloud.arch}")
        elif status == "untested":
            flags.append(f"untested on {cloud.distro}/{cloud.arch}")
        lines.append(SupportLine("image", image.name, tier, labels[status], counts[image.name], flags))
    return lines


def _tier_flags(tier: SupportTier | None) -> list[str]:
    if tier is None:
        return ["no support tier"]
    return [f"tier {tier.name}"] if tier.flagged else []


__all__ = ["SupportLine", "enabled_features", "support_report"]
