"""The browsable API's edit forms for releases and support tiers save, as rendered, changing nothing."""

import pytest

from apps.catalog.models import Release, SupportTier
from tests.browser_form import browsable_api_put

pytestmark = pytest.mark.django_db


def _tier() -> SupportTier:
    tier = SupportTier.objects.order_by("rank")[0]
    tier.description = "Images we build and test ourselves.\n\nReport problems upstream too.\n"
    tier.save()
    return tier


@pytest.mark.parametrize("raw", [False, True], ids=["html form", "raw data form"])
@pytest.mark.parametrize("kind", ["release", "tier"])
def test_saving_a_catalog_api_form_as_rendered_changes_nothing(client_as, admin_user, kind, raw):
    if kind == "release":
        model, obj = Release, Release.objects.get(series="2025.1")
        url = "/api/releases/2025.1/"
    else:
        model, obj = SupportTier, _tier()
        url = f"/api/support-tiers/{obj.pk}/"
    before = model.objects.filter(pk=obj.pk).values().get()

    response = browsable_api_put(client_as(admin_user), url, raw=raw)

    assert response.status_code == 200, response.content.decode()
    assert model.objects.filter(pk=obj.pk).values().get() == before
