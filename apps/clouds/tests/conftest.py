import pytest

from apps.clouds import services
from apps.clouds.demo import DEMO_INVENTORY


@pytest.fixture
def demo_cloud(db):
    """The demo cloud: 3 API controllers, a network node, cells cell1 (1+4) and cell2 (1+3)."""
    cloud = services.create_cloud(
        None,
        slug="demo",
        release="2025.1",
        globals_yml=(DEMO_INVENTORY / "globals.yml").read_text(),
        passwords_yml="database_password: Sup3r-Secret-DB\nkeystone_admin_password: Adm1n-Secret-KS\n",
    )
    services.import_inventory_path(None, cloud, DEMO_INVENTORY)
    return cloud
