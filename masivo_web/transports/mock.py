"""A transport for unit tests: a handler function answers every request, nothing is sent."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from .base import Request, Response

Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport:
    """Answers each request with ``handler(request)`` (a plain or async function) and records it.

    >>> transport = MockTransport(lambda request: Response(200, body=b'{"data": "token"}'))
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        #: Every request sent, in order.
        self.requests: list[Request] = []

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            return await answer
        return answer
