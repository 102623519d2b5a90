"""The API's root and its docs: API URLs only, and docs that work with no internet."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", ["/api/docs/"])
def test_api_docs_load_every_asset_from_ferry_itself(client_as, viewer, path):
    response = client_as(viewer).get(path)
    assert response.status_code == 200
    assets = ASSET.findall(response.content.decode())
    assert assets, "the page loads no script or stylesheet"
    for url in assets:
        if url == f"{path}?script=":  # the split view's own settings script, served by Ferry
            assert client_as(viewer).get(url).status_code == 200
            continue
        assert url.startswith("/static/"), f"{url} is not served by Ferry"
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a vendored file"


def test_swagger_ui_does_not_ask_the_online_validator(client_as, viewer):
    assert '"validatorUrl": null' in client_as(viewer).get("/api/docs/?script=").content.decode()


def test_api_root_lists_api_urls_only(api_as, viewer):
    root = api_as(viewer).get("/api/", HTTP_ACCEPT="application/json").json()
    assert {"clouds", "cells", "hosts", "releases", "images", "support-tiers", "jobs"} <= set(root)
    assert {name: url for name, url in root.items() if not url.startswith("http://testserver/api/")} == {}
