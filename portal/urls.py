"""URL roots: pages, the API and its schema, admin, login and health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.dashboard.views import healthz
from apps.jobs.api.views import plan_view
from portal.api import roundtrip_view, router

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/clouds/<slug:slug>/plan/", plan_view, name="api-cloud-plan"),
    # A namespace of its own: the pages use the same names (cloud-list, job-list…) for HTML views.
    path("api/", include((router.urls, "api"))),
    path("api/diagnostics/roundtrip/", roundtrip_view, name="api-roundtrip"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
    path("clouds/", include("apps.clouds.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("jobs/", include("apps.jobs.urls")),
    path("", include("apps.dashboard.urls")),
]
