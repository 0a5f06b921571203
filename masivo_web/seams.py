"""The parts ``create_client`` accepts, in one public place: import them from here, not from the
package's inner modules (whose paths may change).

- ``transport=``: a :class:`Transport` (``send(Request) -> Response``; one that can start a
  request synchronously, for the page-hide path, is a :class:`StartingTransport`), or a
  :class:`MockTransport` that answers from a function;
- ``clock=``: a :class:`Clock` (monotonic time, wall time, sleep); :class:`SystemClock` is the
  real one;
- ``page=``: a :class:`Page` (the browser page; ``None`` for none);
- ``storage=``: a :class:`Storage` (string keys and values); :class:`MemoryStorage` keeps them
  for the life of the interpreter;
- ``tokens=``: a :class:`TokenRegistry`, through which the clients of one API key share a token;
  :data:`shared_tokens` is the one clients use unless given another (its ``forget()`` makes
  them forget refused keys and tokens: a test's clean start).

>>> from masivo_web import create_client
>>> from masivo_web.seams import MemoryStorage, MockTransport, Response
>>> masivo = create_client(
...     "your-client-api-key",
...     storage=MemoryStorage(),
...     transport=MockTransport(lambda request: Response(200, body=b'{"data": "token"}')),
... )
"""

from __future__ import annotations

from .browser.page import Page
from .engine.token_registry import TokenRegistry, shared_tokens
from .rules.http import Request, Response, StartingTransport, Transport
from .rules.ports import MemoryStorage, Storage
from .runtime.clock import Clock, SystemClock
from .transports.mock import MockTransport

__all__ = [
    "Clock",
    "MemoryStorage",
    "MockTransport",
    "Page",
    "Request",
    "Response",
    "StartingTransport",
    "Storage",
    "SystemClock",
    "TokenRegistry",
    "Transport",
    "shared_tokens",
]
