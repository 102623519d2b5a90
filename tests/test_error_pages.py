"""Refused, unknown and broken pages say what happened and what to do next, in Ferry's own layout."""

import pytest
from django.test import RequestFactory
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def _templates(response) -> list[str]:
    return [t.name for t in response.templates]


def test_a_refused_page_is_a_403_that_names_the_reason(client_as, viewer):
    response = client_as(viewer).get("/clouds/new/")
    assert response.status_code == 403
    assert _templates(response)[:2] == ["403.html", "base.html"]
    page = response.content.decode()
    assert "You need the admin role to define clouds." in page
    assert "vera-viewer" in page and "ask an admin" in page.lower()


def test_an_unknown_page_is_a_404_with_the_way_back(client_as, viewer):
    response = client_as(viewer).get("/no/such/page/")
    assert response.status_code == 404
    assert _templates(response)[:2] == ["404.html", "base.html"]
    page = response.content.decode()
    assert "/no/such/page/" in page and 'href="/clouds/"' in page
    assert "Resolver404" not in page


def test_a_cloud_you_cannot_see_is_a_404_that_says_so(client_as, outsider, demo_cloud):
    response = client_as(outsider).get("/clouds/demo/")
    assert response.status_code == 404
    assert "No cloud named &#x27;demo&#x27; that you can see." in response.content.decode()


def test_the_server_error_page_renders_without_the_request(rf: RequestFactory):
    handler500 = get_resolver().resolve_error_handler(500)  # what Django calls on an uncaught error
    response = handler500(rf.get("/clouds/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong in Ferry" in page and "/healthz" in page
    assert 'rel="stylesheet"' in page  # Ferry's layout, not a bare line of text
