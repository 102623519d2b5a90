"""URL roots: pages, the API and its schema, admin, login and health."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.approvals.api import views as approvals_api
from apps.dashboard.views import healthz
from apps.jobs.api.views import plan_view
from apps.notifications.api.views import notifications_view
from portal.api import roundtrip_view, router

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/clouds/<slug:slug>/plan/", plan_view, name="api-cloud-plan"),
    path(
        "api/clouds/<slug:slug>/approval-policy/", approvals_api.policy_view, name="api-cloud-approval-policy"
    ),
    path("api/clouds/<slug:slug>/notifications/", notifications_view, name="api-cloud-notifications"),
    path("api/jobs/<str:pk>/approve/", approvals_api.approve_view, name="api-job-approve"),
    path("api/jobs/<str:pk>/deny/", approvals_api.deny_view, name="api-job-deny"),
    path("api/approvals/", approvals_api.queue_view, name="api-approval-queue"),
    # A namespace of its own: the pages use the same names (cloud-list, job-list…) for HTML views.
    path("api/", include((router.urls, "api"))),
    path("api/diagnostics/roundtrip/", roundtrip_view, name="api-roundtrip"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file, which the CSP allows, instead of inline.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("clouds/", include("apps.clouds.urls")),
    path("clouds/", include("apps.windows.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("jobs/", include("apps.jobs.urls")),
    path("approvals/", include("apps.approvals.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("audit/", include("apps.audit.urls")),
    path("", include("apps.dashboard.urls")),
]


def not_found(request, exception=None):
    """404 for a URL that matches no route: JSON under /api/, as the API's own answers are."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found
