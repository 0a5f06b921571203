"""The emulator's outermost ASGI layer: every API request (CORS preflights included) is logged
for tests, each answer gets an ``X-Request-Id``, and handlers get a way to drop the connection
(the "drop" fault)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .store import EmulatorState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class RequestLog:
    """Outermost ASGI layer: records every API request (preflights included) for tests, and
    hands handlers a way to drop the connection (the fault "drop")."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        # uvicorn's send is a bound method of the request cycle, which holds the transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        notes: dict[str, Any] = {"abort": getattr(transport, "abort", None)}
        scope.setdefault("state", {})["masivo"] = notes
        status = 0

        request_id = f"req_{secrets.token_hex(8)}"
        notes["request_id"] = request_id

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            await send(message)

        started, generation = time.time(), self.state.generation
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if generation != self.state.generation:
                return  # noqa: B012  # the emulator was reset meanwhile: not this test's request
            headers = dict(scope.get("headers") or [])
            self.state.requests.append(
                {
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": notes.get("route"),
                    "status": 0 if notes.get("dropped") else status,
                    "events": notes.get("events"),
                    "origin": headers.get(b"origin", b"").decode() or None,
                    "request_id": request_id,
                    "at": started,
                }
            )
