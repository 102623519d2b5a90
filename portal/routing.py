"""WebSocket routes of every app."""

from django.urls import path, re_path

from apps.jobs.consumers import JobConsumer
from portal.consumers import NotFoundConsumer, RoundtripConsumer

websocket_urlpatterns = [
    path("ws/roundtrip/<str:token>/", RoundtripConsumer.as_asgi()),
    # Any id reaches the consumer, which closes a bad one with 4404 and a reason.
    path("ws/jobs/<str:job_id>/", JobConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
