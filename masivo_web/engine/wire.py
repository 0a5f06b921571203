"""How a batch's request reaches the network: built from the settings, started through the
transport (synchronously where the transport can: the page-hide flush needs it), and holding
keepalive bytes of the page's budget from its start until its answer. The outbox asks it for
every request, so the bytes are reserved and released in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import cast

from ..rules import api
from ..rules.config import Settings
from ..rules.http import Request, Response, StartingTransport, Transport
from ..rules.keepalive import KeepaliveBudget


class Wire:
    """Builds and starts one client's requests; ``budget`` is its page's (None: no page)."""

    def __init__(
        self, settings: Settings, transport: Transport, budget: KeepaliveBudget | None
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._budget = budget
        #: Whether a request can be on the wire before ``start`` returns (the browser's fetch).
        # A transport with start() (StartingTransport) can send within the page-hide handler.
        self.starts_now = callable(getattr(transport, "start", None))

    @property
    def keepalive_room(self) -> int | None:
        """Keepalive bytes the page's budget has left (None: no page, no keepalive)."""
        return None if self._budget is None else self._budget.available()

    def request(self, events_json: Sequence[str], token: str) -> Request:
        """The request carrying ``events_json`` with ``token``."""
        settings = self._settings
        return api.events_request(
            settings.api_base,
            token,
            events_json,
            settings.timeout_s,
            single=settings.event_route == "behavior",
            gzip=settings.compression == "gzip",
        )

    def fits_keepalive(self, request: Request) -> bool:
        """Whether ``request``'s body fits what the page's keepalive budget has left."""
        room = self.keepalive_room
        return room is not None and len(request.body or b"") <= room

    def start(self, request: Request, *, keepalive: bool) -> tuple[Awaitable[Response], int]:
        """Start ``request``, with ``keepalive`` (it outlives the page) if asked and the budget
        has room; returns its answer and the keepalive bytes it holds (give them back with
        :meth:`release` once it is answered)."""
        size = len(request.body or b"")
        reserved = 0
        if keepalive and self._budget is not None and self._budget.reserve(size):
            reserved = size
            request = request.replace(keepalive=True)
        if self.starts_now:
            return cast(StartingTransport, self._transport).start(request), reserved
        return self._transport.send(request), reserved

    def release(self, reserved: int) -> None:
        """A request that held ``reserved`` keepalive bytes was answered (or abandoned)."""
        if reserved and self._budget is not None:
            self._budget.release(reserved)
