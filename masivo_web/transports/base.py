"""One small async interface between the SDK and the network, with plain request/response types.

The client builds :class:`Request` values and reads :class:`Response` values; it never sees a JS
proxy, an ``http.client`` object or an exception from either. A transport raises
:class:`~masivo_web.MasivoNetworkError` when no HTTP answer arrived, and returns every HTTP
answer, whatever its status.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request as the SDK means it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout_s: float = 10.0
    #: Ask the browser to finish the request after the page is gone (fetch ``keepalive``).
    keepalive: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer. Header names are lower-case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON (the real service
        sometimes answers errors with HTML)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


class Transport(Protocol):
    """Sends one request and returns the answer; raises ``MasivoNetworkError`` when none came."""

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the server's answer."""
        ...


@runtime_checkable
class StartingTransport(Transport, Protocol):
    """A transport that can put a request on the wire synchronously (the browser's ``fetch``).

    The page-hide flush needs it: the request must have started before the handler returns.
    """

    def start(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Start ``request`` now; await the result for the answer."""
        ...
