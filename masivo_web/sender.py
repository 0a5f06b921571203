"""One request's worth of events, from token to outcomes: the bearer token, the 401 that gets
one re-authorization and one retry, the 413 that splits the batch, and the page's keepalive
budget. The dispatcher decides *when* to send; this decides *how*."""

from __future__ import annotations

from collections.abc import Awaitable

from . import api
from .auth import AuthManager
from .config import Settings
from .errors import MasivoAuthError
from .keepalive import page_budget
from .queue import QueuedEvent
from .runtime import IS_BROWSER, Clock
from .transports import Request, Response, Transport

#: A request the page-hide flush already started: (token used, its answer, keepalive bytes).
Started = tuple[str, Awaitable[Response], int]


class Sender:
    """Sends groups of queued events for one client."""

    def __init__(
        self, settings: Settings, *, transport: Transport, auth: AuthManager, clock: Clock
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._auth = auth
        self._clock = clock

    async def send(
        self, items: list[QueuedEvent], started: Started | None = None
    ) -> list[api.Outcome]:
        """Outcomes for ``items`` (or for the request ``started`` for them at page hide).

        Raises ``MasivoAuthError`` when no token can be had (a refused key) and
        ``MasivoError``/``MasivoNetworkError`` when the request got no usable answer; a fresh
        token that is refused again gives "retry" outcomes (the attempt counts).
        """
        if started is None:
            token = await self._auth.get_token()
            response = await self._send(items, token)
        else:
            token, answer, reserved = started
            try:
                response = await answer
            finally:
                page_budget.release(reserved)
        if response.status == 401:
            # The token expired or was revoked: drop it, authorize once, try once more.
            self._auth.invalidate(token)
            token = await self._auth.get_token()
            response = await self._send(items, token)
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
            first = await self.send(items[:half])
            return first + await self.send(items[half:])
        return api.read_events_response(
            response,
            len(items),
            single=self._settings.event_route == "behavior",
            now_epoch=self._clock.time(),
        )

    async def _send(self, items: list[QueuedEvent], token: str) -> Response:
        # In a page every send asks for keepalive, so a batch already on the wire survives the
        # user navigating away; the page's budget decides whether it gets it.
        request, reserved = self.request(items, token, keepalive=IS_BROWSER)
        try:
            return await self._transport.send(request)
        finally:
            page_budget.release(reserved)

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
