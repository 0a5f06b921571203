"""The emulator's outermost ASGI layer: every API request (CORS preflights included) is logged
for tests, each answer gets an ``X-Request-Id``, and handlers get a way to drop the connection
(the "drop" fault)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
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

    def _dated(
        self, send: Callable[[Message], Awaitable[None]]
    ) -> Callable[[Message], Awaitable[None]]:
        """``send``, dating each answer by the emulator's clock (uvicorn's ``Date`` is off)."""

        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(self.state.now(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        return send_dated

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn's send is a bound method of the request cycle, which holds the transport.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        send = self._dated(send)
        if scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
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

        body_bytes = 0

        async def receive_and_count() -> Message:
            nonlocal body_bytes
            message = await receive()
            if message["type"] == "http.request":
                body_bytes += len(message.get("body", b""))
            return message

        started, generation = time.time(), self.state.generation
        try:
            await self.app(scope, receive_and_count, send_and_note)
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
                    # The client's port: one per connection (shows whether it was reused).
                    "client_port": (scope.get("client") or ("", None))[1],
                    # What came over the wire: the body as sent (compressed or not) and the
                    # request line and headers as HTTP/1.1 text.
                    "body_bytes": body_bytes,
                    "header_bytes": _head_bytes(scope),
                    "encoding": headers.get(b"content-encoding", b"").decode() or None,
                    "request_id": request_id,
                    "at": started,
                }
            )


def _head_bytes(scope: Scope) -> int:
    """Bytes of the request line and headers as HTTP/1.1 text."""
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    line = len(scope["method"]) + 1 + len(target) + (len(query) + 1 if query else 0) + 11
    return line + sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or []) + 2
