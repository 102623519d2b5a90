"""Project-level WebSocket consumers."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.roles import Role, has_role
from portal.tasks import roundtrip_group


class RoundtripConsumer(AsyncJsonWebsocketConsumer):
    """Forwards the result of a round-trip task to the browser that asked for it."""

    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        # Diagnostics are for admins, like the endpoint that queues the task.
        if not await database_sync_to_async(has_role)(user, Role.ADMIN):
            await self.close(code=4403)
            return
        self.group = roundtrip_group(self.scope["url_route"]["kwargs"]["token"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def roundtrip_result(self, event: dict) -> None:
        await self.send_json(event["result"])


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any WebSocket path no route serves: closed with 4404 and a reason, rather than an error."""

    async def connect(self) -> None:
        reason = f"no WebSocket at {self.scope['path'][:200]}"
        await self.accept()
        await self.send_json({"kind": "error", "reason": reason})
        await self.close(code=4404, reason=reason)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """The socket is closing: anything the client sends meanwhile is ignored."""
