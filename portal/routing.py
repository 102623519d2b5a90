"""WebSocket routes of every app."""

from django.urls import path

from apps.jobs.consumers import JobConsumer
from portal.consumers import RoundtripConsumer

websocket_urlpatterns = [
    path("ws/roundtrip/<str:token>/", RoundtripConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/", JobConsumer.as_asgi()),
]
