"""ASGI entry point: HTTP through Django, WebSockets through Channels.

In the embedded shape it also starts the in-process Celery worker and beat.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.audit.middleware import AuditContextASGIMiddleware  # noqa: E402
from portal.origins import SameOriginValidator  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuditContextASGIMiddleware(
            SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

if settings.FERRY_EMBEDDED_WORKER:
    from portal import embedded

    embedded.start(concurrency=settings.FERRY_WORKER_CONCURRENCY)
