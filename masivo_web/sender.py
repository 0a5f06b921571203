"""One request's worth of events, from token to outcomes: the bearer token, the 401 that gets
one re-authorization and one retry, the 413 that splits the batch, and the page's keepalive
budget. The dispatcher decides *when* to send; this decides *how*."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from . import api
from .auth import AuthManager
from .config import Settings
from .errors import MasivoAuthError, MasivoError
from .keepalive import page_budget
from .queue import QueuedEvent
from .runtime import IS_BROWSER, Clock
from .transports import Request, Response, StartingTransport, Transport

#: A request the page-hide flush already started: (token used, its answer, keepalive bytes).
Started = tuple[str, Awaitable[Response], int]


class Claim:
    """One request's worth of events. Until its request starts it is *waiting* (its task wants a
    token, or has not had its turn of the loop yet), and a page hide may start it first."""

    __slots__ = ("items", "started")

    def __init__(self, items: list[QueuedEvent], started: Started | None = None) -> None:
        self.items = items
        self.started = started


class Sender:
    """Sends groups of queued events for one client."""

    def __init__(
        self, settings: Settings, *, transport: Transport, auth: AuthManager, clock: Clock
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._auth = auth
        self._clock = clock
        #: Whether requests can be put on the wire synchronously (the browser's fetch).
        self.can_start = isinstance(transport, StartingTransport)
        self._waiting: set[Claim] = set()

    def claim(self, items: list[QueuedEvent]) -> Claim:
        """Take ``items`` for a request to be sent by :meth:`send`; until it starts, a page
        hide (:meth:`start_waiting`) may start it instead."""
        claim = Claim(items)
        self._waiting.add(claim)
        return claim

    def start_now(self, items: list[QueuedEvent], token: str) -> Claim:
        """Start the request for ``items`` at once, with ``token`` and keepalive while the
        page's budget allows (the page-hide flush); pass the claim to :meth:`send`."""
        request, reserved = self.request(items, token, keepalive=True)
        return Claim(items, (token, self._start(request), reserved))

    def start_waiting(self, token: str) -> None:
        """The page is going away: start, with ``token`` and keepalive, every claimed request
        not started yet, while the keepalive budget lasts (the rest stay stored)."""
        for claim in list(self._waiting):
            request, reserved = self.request(claim.items, token, keepalive=True)
            if not request.keepalive:
                return  # the budget is spent: a request without keepalive dies with the page
            claim.started = (token, self._start(request), reserved)
            self._waiting.discard(claim)

    def forget_waiting(self) -> None:
        """The client is closing: no claimed request is to be started any more."""
        self._waiting.clear()

    async def send(self, claim: Claim) -> list[api.Outcome]:
        """Outcomes for the events of ``claim``, starting its request unless already started.

        Raises ``MasivoAuthError`` when no token can be had (a refused key) and
        ``MasivoError``/``MasivoNetworkError`` when the request got no usable answer; a fresh
        token that is refused again gives "retry" outcomes (the attempt counts).
        """
        items = claim.items
        token, response = await self._answer(claim)
        if response.status == 401:
            # The token expired or was revoked: drop it, authorize once, try once more.
            self._auth.invalidate(token)
            token, response = await self._answer(self.claim(items))
            if response.status == 401:
                # Not final: a token can be revoked again between authorize and send. Try later
                # (the attempt counts); if it keeps happening, the events fail with this error.
                error = MasivoAuthError(
                    "Masivo rejected a freshly issued token. Check the key is a valid CLIENT key "
                    "and that the clock of this device is right.",
                    status=401,
                    details=api.api_error(response).details,
                )
                return [api.Outcome("retry", 401, error=error)] * len(items)
        if response.status == 413 and len(items) > 1:
            half = len(items) // 2
            # Too large for the server: send each half (a single event that is too large is
            # reported by read_events_response as rejected).
            first = await self.send(self.claim(items[:half]))
            return first + await self.send(self.claim(items[half:]))
        return api.read_events_response(
            response,
            len(items),
            single=self._settings.event_route == "behavior",
            now_epoch=self._clock.time(),
        )

    async def _answer(self, claim: Claim) -> tuple[str, Response]:
        """Start the request of ``claim`` (unless a page hide did) and await its answer."""
        if claim.started is None:
            try:
                token = await self._auth.get_token()
                if claim.started is None:
                    # In a page every send asks for keepalive, so a batch already on the wire
                    # survives the user navigating away; the page's budget decides.
                    request, reserved = self.request(claim.items, token, keepalive=IS_BROWSER)
                    claim.started = (token, self._start(request), reserved)
            except MasivoError:
                if claim.started is None:  # (a page hide may have started it meanwhile)
                    raise
            finally:
                self._waiting.discard(claim)
        assert claim.started is not None
        token, answer, reserved = claim.started
        try:
            return token, await answer
        finally:
            page_budget.release(reserved)

    def _start(self, request: Request) -> Awaitable[Response]:
        if self.can_start:
            return cast(StartingTransport, self._transport).start(request)  # on the wire now
        return self._transport.send(request)

    def request(
        self, items: list[QueuedEvent], token: str, *, keepalive: bool
    ) -> tuple[Request, int]:
        """The request for ``items`` and the keepalive bytes it reserved (release them when
        it is answered). Keepalive is granted only while the page's budget allows it."""
        settings = self._settings
        if settings.event_route == "behavior":
            body = items[0].event.json
            request = api.single_request(
                settings.api_base, token, body, settings.timeout_s, keepalive=False
            )
        else:
            events = [item.event.json for item in items]
            request = api.batch_request(
                settings.api_base, token, events, settings.timeout_s, keepalive=False
            )
        if settings.compression == "gzip" and request.body:
            request = api.gzipped(request)
        size = len(request.body or b"")
        if keepalive and page_budget.reserve(size):
            return request.replace(keepalive=True), size
        return request, 0
