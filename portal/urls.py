"""URL roots: pages, the API and its schema, admin, login and health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.dashboard.views import healthz
from portal.api import roundtrip_view, router

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/diagnostics/roundtrip/", roundtrip_view, name="api-roundtrip"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file, which the CSP allows, instead of inline.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("clouds/", include("apps.clouds.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("jobs/", include("apps.jobs.urls")),
    path("", include("apps.dashboard.urls")),
]
