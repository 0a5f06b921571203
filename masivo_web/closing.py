"""How a client ends: ``close()`` sends until nothing is left or its time is up, ``destroy()``
stops at once, ``async with`` does both, and a client inherited by a forked process refuses
every call. From the first moment of closing, new events are refused, never accepted and then
dropped. Mixed into :class:`~masivo_web.client.MasivoClient`, which owns the parts it stops."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .errors import MasivoConfigError
from .rules.results import CloseResult
from .runtime.aio import first_of
from .runtime.clock import Clock

if TYPE_CHECKING:
    from collections.abc import Callable

    from .browser.context import EventContext
    from .browser.lifecycle import PageLifecycle
    from .browser.page import Page
    from .engine.auth import AuthManager
    from .engine.flusher import Flusher
    from .engine.outbox import Outbox
    from .engine.token_registry import TokenRegistry

logger = logging.getLogger("masivo_web")


class Closing:
    """Closing, destroying, forks; the parts are the client's (declared for the type checker)."""

    _clock: Clock
    _page: Page | None
    _context: EventContext
    _auth: AuthManager
    _token_registry: TokenRegistry
    _outbox: Outbox
    _flusher: Flusher
    _lifecycle: PageLifecycle
    _destroyed: bool
    _forked: bool
    _closing: bool
    _unwire: Callable[[], None]

    async def flush(self) -> None:
        """Send every queued event now and return once each was answered (delivered or finally
        failed; events being retried are waited for, backoff included). In a page that is
        offline it waits for the network to come back: ``close(timeout_s)`` bounds the wait.
        Cancelling ``flush()`` stops the waiting, never the sending."""
        if not self._destroyed:
            await self._flusher.flush()

    async def close(self, timeout_s: float = 10.0) -> CloseResult:
        """Send what is queued until nothing is left or ``timeout_s`` seconds passed, then
        destroy. From the moment it is called, new events are refused (``MasivoConfigError``).
        Returns a :class:`CloseResult`: true when every event was settled (delivered or finally
        failed) in time, with ``unsent``, how many were not: their awaitables raise, and in a
        page they stay stored, for the site's next page to send."""
        if self._destroyed:
            return CloseResult(0)
        self._closing = True
        unsent = 0
        try:
            await first_of(self._flushed_all, lambda: self._clock.sleep(timeout_s))
            unsent = len(self._outbox.unsettled())
        finally:
            self._shut(keep_stored=True)
        if unsent:
            logger.warning(
                "masivo_web: close() sent what it could in %g s; %d event(s) were not sent%s",
                timeout_s,
                unsent,
                " (they stay stored for the site's next page)" if self._page is not None else "",
            )
        return CloseResult(unsent)

    async def _flushed_all(self) -> None:
        # One flush waits for the events unsettled when it began (retries and backoff
        # included); none can be added meanwhile (closing), but a batch split or put back is
        # still the same events: loop until none is left.
        while self._outbox.unsettled() and not self._destroyed:
            await self._flusher.flush()

    @property
    def pending_events(self) -> int:
        """Events not settled yet: queued, or sent and waiting for Masivo's answer."""
        return 0 if self._forked else len(self._outbox.unsettled())

    def _left_in_parent(self) -> None:
        """This process was forked from the one that made the client: its loop, tasks and
        queued events belong to the parent (which sends them); here it refuses every call."""
        self._forked = self._destroyed = self._closing = True

    def destroy(self) -> None:
        """Stop timers, drop queued events (their awaitables raise) and release the shared token.

        Never raises. Call it on logout. ``await flush()`` first to send what is queued, or use
        ``async with create_client(...) as masivo:`` which does both.
        """
        self._shut(keep_stored=False)

    def _shut(self, *, keep_stored: bool) -> None:
        if self._destroyed:
            return
        self._destroyed = self._closing = True
        steps = (
            self._unwire,
            self._lifecycle.remove,
            self._context.close,
            self._flusher.close,
            lambda: self._drop_queue(keep_stored),
            lambda: self._token_registry.release(self._auth),
        )
        for step in steps:
            try:
                step()
            except Exception:  # every step runs: the token is released whatever failed
                logger.exception("masivo_web: destroy() step failed")

    def _drop_queue(self, keep_stored: bool) -> None:
        dropped = self._outbox.fail_unsettled(keep_stored=keep_stored)
        if dropped and not keep_stored:
            logger.warning("masivo_web: destroy() dropped %d unsent event(s)", dropped)

    def _check_alive(self) -> None:
        if self._closing and not self._destroyed:
            raise MasivoConfigError(
                "This client is closing (close() was called): events tracked now would not be "
                "sent, so they are refused. Send them before close(), or use another client."
            )
        if self._forked:
            raise MasivoConfigError(
                "This client was made before the process forked (gunicorn --preload, "
                "multiprocessing): its event loop and queued events stayed in the parent "
                "process. Create the client in each worker after the fork (a FastAPI "
                "lifespan, gunicorn's post_fork), or use SyncClient, which starts again by "
                "itself in a forked process."
            )
        if self._destroyed:
            raise MasivoConfigError(
                "This client was closed (or destroyed); create a new one: create_client(), or "
                "SyncClient()."
            )
