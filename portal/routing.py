"""WebSocket routes of every app."""

from django.urls import path

from portal.consumers import RoundtripConsumer

websocket_urlpatterns = [
    path("ws/roundtrip/<str:token>/", RoundtripConsumer.as_asgi()),
]
