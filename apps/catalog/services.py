"""Changing the catalog: releases, images and support tiers (and their rules and matrix cells).

The API, the admin and any command change the catalog only through these functions. Each takes
the acting user, validates before it changes anything, runs in one transaction and writes the
audit entry with what was before and after. Deleting something still in use is refused with
``InUse`` naming what uses it.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q

from apps.audit.services import record
from apps.catalog.models import Image, Release, SupportRule, SupportTier
from portal.exceptions import InUse

RELEASE_FIELDS = ("series", "name", "slurp", "kolla_ansible_major", "status", "position")
IMAGE_FIELDS = ("name", "service", "description")
TIER_FIELDS = ("name", "rank", "flagged", "description")
SHOWN = 10  # names listed in an "in use by" answer; the rest are counted


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    return value


def snapshot(obj: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``obj`` as an audit entry shows them."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def _named(what: str, names: list[str], total: int) -> str:
    more = f" and {total - len(names)} more" if total > len(names) else ""
    return f"{what} {', '.join(names)}{more}"


@transaction.atomic
def create(actor, model: type[models.Model], fields: tuple[str, ...], **values: Any) -> models.Model:
    """Create a catalog row from ``values`` (only ``fields`` are taken), audited as ``<model>.create``."""
    obj = model(**{k: v for k, v in values.items() if k in fields})
    obj.full_clean()
    obj.save()
    record(actor, f"{model._meta.model_name}.create", obj, detail={"after": snapshot(obj, fields)})
    return obj


@transaction.atomic
def update(actor, obj: models.Model, fields: tuple[str, ...], **values: Any) -> models.Model:
    """Change the ``fields`` of ``obj`` given in ``values``; nothing is saved or audited when nothing
    differs. The row is locked while it changes, so two editors are applied one after the other."""
    current = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    before = snapshot(current, fields)
    changed = sorted(k for k, v in values.items() if k in fields and _plain(getattr(current, k)) != _plain(v))
    if not changed:
        return current
    for key in changed:
        setattr(current, key, values[key])
    current.full_clean()
    current.save()
    after = snapshot(current, fields)
    record(
        actor,
        f"{current._meta.model_name}.update",
        current,
        detail={
            "changed": changed,
            "before": {k: before[k] for k in changed},
            "after": {k: after[k] for k in changed},
        },
    )
    return current


@transaction.atomic
def delete(actor, obj: models.Model, fields: tuple[str, ...], uses: list[str]) -> None:
    """Delete ``obj`` unless ``uses`` names something that still uses it; audited with what it was."""
    what = f"{obj._meta.verbose_name} {obj}"
    if uses:
        raise InUse(f"{what} is in use by {'; '.join(uses)}: change or remove those first")
    record(actor, f"{obj._meta.model_name}.delete", obj, detail={"before": snapshot(obj, fields)})
    obj.delete()


def release_uses(release: Release) -> list[str]:
    """What still needs ``release``: clouds on it, upgrade histories, unfinished jobs, backups."""
    uses = []
    clouds = release.clouds.order_by("slug").values_list("slug", flat=True)
    if total := clouds.count():
        uses.append(_named("cloud", list(clouds[:SHOWN]), total))
    ReleaseChange = apps.get_model("clouds", "ReleaseChange")
    history = (
        ReleaseChange.objects.filter(Q(from_release=release) | Q(to_release=release))
        .order_by("cloud__slug")
        .values_list("cloud__slug", flat=True)
        .distinct()
    )
    if total := history.count():
        uses.append(_named("the upgrade history of", list(history[:SHOWN]), total))
    Job = apps.get_model("jobs", "Job")
    jobs = (
        Job.objects.exclude(state__in=["succeeded", "failed", "canceled", "lost"])
        .filter(Q(from_release=release.series) | Q(params__target_release=release.series))
        .order_by("id")
        .values_list("id", flat=True)
    )
    if total := jobs.count():
        uses.append(_named("unfinished job", [f"#{n}" for n in jobs[:SHOWN]], total))
    Backup = apps.get_model("backups", "Backup")
    backups = Backup.objects.filter(release=release.series).order_by("id").values_list("id", flat=True)
    if total := backups.count():
        uses.append(_named("backup", [f"#{n}" for n in backups[:SHOWN]], total))
    return uses


def create_release(actor, **values: Any) -> Release:
    """Add a release series to the catalog."""
    return create(actor, Release, RELEASE_FIELDS, **values)


def update_release(actor, release: Release, **values: Any) -> Release:
    """Change a release series (its status, most often)."""
    return update(actor, release, RELEASE_FIELDS, **values)


def delete_release(actor, release: Release) -> None:
    """Remove a release series that nothing uses; its image tags go with it."""
    delete(actor, release, RELEASE_FIELDS, release_uses(release))


def tier_uses(tier: SupportTier) -> list[str]:
    """The support rules that assign ``tier``."""
    rules = [
        f"{r.subject_type} {r.subject}" for r in tier.rules.order_by("subject_type", "subject")[: SHOWN + 1]
    ]
    total = tier.rules.count() if len(rules) > SHOWN else len(rules)
    return [_named("the support rules for", rules[:SHOWN], total)] if rules else []


def create_tier(actor, **values: Any) -> SupportTier:
    """Add a support tier."""
    return create(actor, SupportTier, TIER_FIELDS, **values)


def update_tier(actor, tier: SupportTier, **values: Any) -> SupportTier:
    """Change a support tier's name, rank, flag or description."""
    return update(actor, tier, TIER_FIELDS, **values)


def delete_tier(actor, tier: SupportTier) -> None:
    """Remove a support tier that no rule assigns."""
    delete(actor, tier, TIER_FIELDS, tier_uses(tier))


def image_uses(image: Image) -> list[str]:
    """The support rule that names ``image`` itself, if any."""
    rule = SupportRule.objects.filter(subject_type="image", subject=image.name).first()
    return [f"the support rule for image {image.name} ({rule.tier})"] if rule else []


def create_image(actor, **values: Any) -> Image:
    """Add a Kolla image."""
    return create(actor, Image, IMAGE_FIELDS, **values)


def update_image(actor, image: Image, **values: Any) -> Image:
    """Change an image's service or description (or name)."""
    return update(actor, image, IMAGE_FIELDS, **values)


def delete_image(actor, image: Image) -> None:
    """Remove an image (its matrix cells and tags go with it) unless a support rule names it."""
    delete(actor, image, IMAGE_FIELDS, image_uses(image))
