"""The one path each batch walks to its settlement: token, request, answer (a 401: one
re-authorization, one more try), one :class:`~masivo_web.rules.retry.Outcome` per event, and
settlement by the :class:`~masivo_web.engine.outbox.Outbox`, which hands back the halves of a
batch too large for the service (413) to walk the same path in turn."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import MasivoAuthError, MasivoConfigError, MasivoError, MasivoNetworkError
from ..rules import api
from ..rules.config import Settings
from ..rules.http import Response
from ..rules.retry import Outcome
from ..runtime.clock import Clock
from .auth import AuthManager
from .outbox import Outbox
from .wire import Batch

logger = logging.getLogger("masivo_web")


class BatchPath:
    """Walks one client's batches: ``hidden()`` says whether the page is hidden (what starts
    then is handed off at once), ``started()`` is called when a request has started (the
    keepalive room it took is known)."""

    def __init__(
        self,
        outbox: Outbox,
        auth: AuthManager,
        settings: Settings,
        clock: Clock,
        *,
        hidden: Callable[[], bool],
        started: Callable[[], None],
        log: logging.Logger = logger,
    ) -> None:
        self._log = log
        self._outbox = outbox
        self._auth = auth
        self._settings = settings
        self._clock = clock
        self._hidden = hidden
        self._started = started

    async def walk(self, batch: Batch) -> None:
        """One batch's path: token, request, answer (401: once more), outcomes, settle (413:
        the halves walk it in turn)."""
        outbox = self._outbox
        todo = [batch]
        while todo:
            current = todo.pop(0)
            try:
                outcomes = await self._outcomes(current)
            except BaseException:  # cancelled: the loop ends, or the client was destroyed
                outbox.abandon(current)
                for rest in todo:
                    outbox.abandon(rest)
                raise
            todo[0:0] = outbox.settle(current, outcomes)
            if self._hidden() and outbox.persistence is not None:
                # The page may go before the next turn: what was answered leaves storage now.
                outbox.persistence.write()

    async def _outcomes(self, batch: Batch) -> list[Outcome]:
        count = len(batch.items)
        try:
            response, token = await self._answer(batch)
            if response.status == 401:
                # The token expired or was revoked: drop it, authorize once, try once more.
                self._auth.invalidate(token)
                response, _ = await self._answer(batch)
                if response.status == 401:
                    # Not final: a token can be revoked again between authorize and send. The
                    # attempt counts; if it keeps happening, the events fail with this error.
                    refused = MasivoAuthError(
                        "Masivo rejected a freshly issued token. Check the key is a valid CLIENT "
                        "key and that the clock of this device is right.",
                        status=401,
                        details=api.api_error(response).details,
                    )
                    return [Outcome("retry", 401, error=refused)] * count
            return api.read_events_response(
                response,
                count,
                single=self._settings.event_route == "behavior",
                # Retry-After as a date is the service's time, like its Date header.
                now_epoch=self._auth.service_clock.now() or self._clock.time(),
            )
        except (MasivoAuthError, MasivoConfigError) as exc:  # refused key, wrong auth_url: final
            return [Outcome("rejected", exc.status or 401, error=exc)] * count
        except MasivoError as exc:  # network failure, or an authorize 5xx: retry later
            return [Outcome("retry", exc.status or 0, error=exc)] * count
        except Exception as exc:  # a bug must fail its events, never the flusher
            logger.exception("masivo_web: unexpected error while sending events")
            error = MasivoError(f"Unexpected SDK error: {exc!r}")
            return [Outcome("rejected", 0, error=error)] * count

    async def _answer(self, batch: Batch) -> tuple[Response, str]:
        """Start ``batch``'s request unless a page hide already did, and await the answer (and
        the token the request carried)."""
        if batch.sent is None:
            token = await self._auth.get_token()
            if batch.sent is None:  # a page hide may have started it while we waited
                # With keepalive while the page's budget has room, so a batch on the wire
                # survives the user navigating away (the wire decides; no page: no budget).
                self._outbox.start(batch, token)
                if self._hidden():  # the page may go with no further event: as at hide
                    self._outbox.hand_off()
                self._started()  # the keepalive room it took is known: the next may go
                self._log.debug("masivo_web: sending %d event(s)", len(batch.items))
        sent = batch.sent
        assert sent is not None
        try:
            response, token = await self._outbox.answer(batch)
        except MasivoNetworkError as exc:
            if not sent.keepalive or exc.timed_out or self._hidden():
                raise
            # A browser refuses a keepalive request at once when the page's keepalive bodies in
            # flight would pass 64 KiB, and it counts the page's own (a 60 KB beacon) and, in
            # Chromium, a request just answered: the page is visible, so the same request goes
            # once more at once, without keepalive (a plain request is not handed off at hide).
            self._log.debug("masivo_web: keepalive refused; sending again without it")
            self._outbox.start(batch, sent.token, keepalive=False)
            response, token = await self._outbox.answer(batch)
        self._log.debug("masivo_web: Masivo answered HTTP %d", response.status)
        self._auth.service_clock.observe_date(
            response.headers.get("date"), received_at=self._clock.monotonic()
        )
        return response, token
