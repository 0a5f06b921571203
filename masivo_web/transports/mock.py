"""A transport for unit tests: a handler function answers every request, nothing is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..rules.http import Request, Response

Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport:
    """Answers each request with ``handler(request)`` (a plain or async function) and records it.

    Like the browser transport, :meth:`start` records the request at once (it is "on the wire"
    before any ``await``), so tests can check what a page-hide flush started synchronously.

    >>> transport = MockTransport(lambda request: Response(200, body=b'{"data": "token"}'))
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        #: Every request sent, in order.
        self.requests: list[Request] = []

    def start(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Record ``request`` now; await the result for the handler's answer."""
        self.requests.append(request)
        return self._answer(request)

    async def send(self, request: Request) -> Response:
        return await self.start(request)

    async def _answer(self, request: Request) -> Response:
        answer = self.handler(request)
        if isinstance(answer, Response):
            return answer
        return await answer
