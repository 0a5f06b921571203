"""Transports: how requests reach the network in each runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..rules.http import Request, Response, StartingTransport, Transport

if TYPE_CHECKING:
    from .mock import MockTransport

__all__ = [
    "MockTransport",
    "Request",
    "Response",
    "StartingTransport",
    "Transport",
    "default_transport",
]


def __getattr__(name: str) -> object:
    # The mock is for tests: not imported (with inspect) by the page's ``import masivo_web``.
    if name == "MockTransport":
        from . import mock

        return mock.MockTransport
    raise AttributeError(f"module 'masivo_web.transports' has no attribute {name!r}")


_default: Transport | None = None


def default_transport() -> Transport:
    """The browser's ``fetch`` in a page; under CPython ``httpx`` where it is installed
    (``masivo_web[httpx]``: proxies, connection reuse), else asyncio streams. One per process,
    so the clients of one key share one token (they reach Masivo the same way)."""
    global _default
    if _default is None:
        from ..runtime.interpreter import IS_BROWSER

        if IS_BROWSER:
            from .fetch import FetchTransport

            _default = FetchTransport()
        else:
            try:
                from .cpython.httpx_client import HttpxTransport
            except ImportError:  # httpx is optional: the standard library suffices
                from .cpython.stdlib import StdlibTransport

                _default = StdlibTransport()
            else:
                _default = HttpxTransport()
    return _default
