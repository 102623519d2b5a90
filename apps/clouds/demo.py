"""The demo cloud of the embedded shape: two nova cells on the lab backend."""

from __future__ import annotations

import secrets as pysecrets
from pathlib import Path

import yaml
from django.db import transaction

from apps.clouds import services
from apps.clouds.models import Cloud

DEMO_INVENTORY = Path(__file__).resolve().parent / "demo_inventory"
DEMO_SLUG = "demo"


@transaction.atomic
def ensure_demo_cloud() -> Cloud:
    """Create the demo cloud (planned, not yet deployed) with its inventory once; then leave it alone."""
    cloud = Cloud.objects.filter(slug=DEMO_SLUG).first()
    if cloud is not None:
        return cloud
    passwords = {
        key: pysecrets.token_urlsafe(18)
        for key in (
            "database_password",
            "keystone_admin_password",
            "rabbitmq_password",
            "nova_database_password",
        )
    }
    cloud = services.create_cloud(
        None,
        slug=DEMO_SLUG,
        region="RegionOne",
        description="Demo cloud on the lab backend: 3 controllers, 1 network node, 2 cells",
        distro="rocky",
        distro_version="9",
        globals_yml=(DEMO_INVENTORY / "globals.yml").read_text(),
        passwords_yml=yaml.safe_dump(passwords, sort_keys=True),
    )
    services.import_inventory_path(None, cloud, DEMO_INVENTORY)
    return cloud
