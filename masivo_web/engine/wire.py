"""How a batch's request reaches the network: built from the settings, started through the
transport (synchronously where the transport can: the page-hide flush needs it), with
``keepalive`` while the page's budget has room for its body. A start answers with one
:class:`InFlight`, which owns the answer and the keepalive bytes it holds until then, so the
bytes are reserved in one place and given back exactly once."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import cast

from ..rules import api
from ..rules.config import Settings
from ..rules.http import Request, Response, StartingTransport, Transport
from ..rules.keepalive import KeepaliveBudget
from ..rules.queue import QueuedEvent


class InFlight:
    """One request on the wire: the token it carries, its answer, and the keepalive bytes of
    the page's budget it holds until that answer (or until it is abandoned)."""

    __slots__ = ("_answer", "_budget", "keepalive", "reserved", "token")

    def __init__(
        self,
        answer: Awaitable[Response],
        token: str,
        *,
        reserved: int = 0,
        budget: KeepaliveBudget | None = None,
    ) -> None:
        self._answer = answer
        self.token = token
        #: Whether it was started with this page's keepalive (it outlives the page).
        self.keepalive = reserved > 0
        #: Keepalive bytes still held (0 once answered or abandoned).
        self.reserved = reserved
        self._budget = budget

    async def response(self) -> Response:
        """The answer; the keepalive bytes go back whatever came."""
        try:
            return await self._answer
        finally:
            self.release()

    def release(self) -> None:
        """Give the keepalive bytes back (once; later calls do nothing)."""
        if self.reserved and self._budget is not None:
            self._budget.release(self.reserved)
        self.reserved = 0


class Batch:
    """Events taken from the queue for one request, held by the outbox: *taken* until its
    request is on the wire (``sent``), *sent* until answered; a 401 starts it again."""

    __slots__ = ("items", "sent")

    def __init__(self, items: list[QueuedEvent]) -> None:
        self.items = items
        self.sent: InFlight | None = None


class Wire:
    """Builds and starts one client's requests; ``budget`` is its page's (None: no page, so
    no keepalive)."""

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

    def start(self, request: Request, token: str, *, keepalive: bool = True) -> InFlight:
        """Start ``request`` (carrying ``token``): with keepalive, so it outlives the page,
        whenever the page's budget has room for its body; without, where there is no page or
        no room (or ``keepalive`` is False)."""
        budget = self._budget
        size = len(request.body or b"")
        reserved = 0
        if keepalive and budget is not None and budget.reserve(size):
            reserved = size
            request = request.replace(keepalive=True)
        if self.starts_now:
            answer = cast(StartingTransport, self._transport).start(request)
        else:
            answer = self._transport.send(request)
        return InFlight(answer, token, reserved=reserved, budget=budget)
