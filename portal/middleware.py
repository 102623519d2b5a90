"""Project-wide middleware."""

from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired


class LoginRequiredMiddleware(_DjangoLoginRequired):
    """Require a logged-in user on every page, but let DRF answer for the API.

    API views authenticate with a session *or* a token, which Django's middleware
    cannot see, so they are left to DRF's ``IsAuthenticated`` default: an
    anonymous API client gets a 401/403 JSON answer instead of a login redirect.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
