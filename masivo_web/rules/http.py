"""One small async interface between the SDK and the network, with plain request/response types.

The client builds :class:`Request` values and reads :class:`Response` values; it never sees a JS
proxy, an ``http.client`` object or an exception from either. A transport raises
:class:`~masivo_web.MasivoNetworkError` when no HTTP answer arrived, and returns every HTTP
answer, whatever its status.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from .._record import Record


class Request(Record):
    """An HTTP request as the SDK means it. ``keepalive`` asks the browser to finish the request
    after the page is gone (fetch ``keepalive``)."""

    __slots__ = ("body", "headers", "keepalive", "method", "timeout_s", "url")
    _hidden = frozenset({"headers"})  # the Authorization header never reaches a log

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout_s: float = 10.0,
        keepalive: bool = False,
    ) -> None:
        self.method = method
        self.url = url
        self.headers: Mapping[str, str] = {} if headers is None else headers
        self.body = body
        self.timeout_s = timeout_s
        self.keepalive = keepalive


class Response(Record):
    """An HTTP answer. Header names are lower-case."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> None:
        self.status = status
        self.headers: Mapping[str, str] = {} if headers is None else headers
        self.body = body

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON (the real service
        sometimes answers errors with HTML)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:  # also bad UTF-8 (UnicodeDecodeError; MicroPython: UnicodeError)
            return None


class Transport(Protocol):
    """Sends one request and returns the answer; raises ``MasivoNetworkError`` when none came."""

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the server's answer."""
        ...


class StartingTransport(Transport, Protocol):
    """A transport that can put a request on the wire synchronously (the browser's ``fetch``).

    The page-hide flush needs it: the request must have started before the handler returns.
    """

    def start(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Start ``request`` now; await the result for the answer."""
        ...
