"""Transports: how requests reach the network in each runtime."""

from __future__ import annotations

from .base import Request, Response, StartingTransport, Transport
from .mock import MockTransport

__all__ = [
    "MockTransport",
    "Request",
    "Response",
    "StartingTransport",
    "Transport",
    "default_transport",
]


def default_transport() -> Transport:
    """The browser's ``fetch`` inside Pyodide, asyncio streams under CPython."""
    from ..runtime import IS_BROWSER

    if IS_BROWSER:
        from .fetch import FetchTransport

        return FetchTransport()
    from .stdlib import StdlibTransport

    return StdlibTransport()
