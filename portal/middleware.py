"""Project-wide middleware."""

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequired
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin


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


class RequestLimitsMiddleware(MiddlewareMixin):
    """Refuse a request before anything reads or parses its body: 413 when the body is larger than
    its limit, 400 when the URL holds a NUL byte (no database column can hold one).

    A multipart body (file uploads) may be ``FERRY_MAX_UPLOAD_BYTES``, any other body
    ``FERRY_MAX_BODY_BYTES``; the answer names the variable, so an operator knows what to raise.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        where = _nul_in_url(request)
        if where:
            return _refuse(request, 400, f"{where} holds a NUL byte")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(request, 400, "the Content-Length header is not a number")
        if request.content_type == "multipart/form-data":
            limit, variable, what = settings.FERRY_MAX_UPLOAD_BYTES, "FERRY_MAX_UPLOAD_BYTES", "uploads"
        else:
            limit, variable, what = settings.FERRY_MAX_BODY_BYTES, "FERRY_MAX_BODY_BYTES", "request bodies"
        if length > limit:
            return _refuse(
                request,
                413,
                f"the request body is {length:,} bytes; {what} are limited to {limit:,} bytes ({variable})",
            )
        return None


def _nul_in_url(request: HttpRequest) -> str | None:
    if "\0" in request.path:
        return "the URL path"
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\0" in query:
        for key, values in request.GET.lists():
            if "\0" in key or any("\0" in value for value in values):
                return f"query parameter {key.replace(chr(0), '%00')!r}"
        return "the query string"
    return None


def _refuse(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": reason}, status=status)
    return HttpResponse(f"{reason}\n", status=status, content_type="text/plain; charset=utf-8")
