"""Bearer tokens: one per API key, shared by every client of that key, refreshed ahead of time.

:class:`AuthManager` holds the shared authorize-in-flight and the single refresh task (the token's
own state is :mod:`masivo_web.rules.token_state`); the HTTP exchange itself is the ``authorize``
coroutine function its first client hands in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..errors import MasivoAuthError, MasivoConfigError, MasivoError
from ..rules.service_clock import ServiceClock
from ..rules.token_state import (
    REFRESH_INTERVAL_S,
    KeptToken,
    TokenCache,
    TokenState,
    read_token_times,
)
from ..runtime.aio import Settable, cancel, spawn
from ..runtime.clock import Clock

logger = logging.getLogger("masivo_web")

#: Consecutive failed authorizations double the wait before the next one, up to this.
AUTHORIZE_BACKOFF_CAP_S = 600.0
#: With no word of the service's time (no ``iat``, no readable ``Date``), a token's life is
#: read from the device's clock only when it comes out between 0 and this: a clock that is
#: hours off gives a life that is not (then the expiry is unknown, and the 5-minute refresh
#: and a 401 replace the token).
PLAUSIBLE_LIFE_S = 24 * 3600.0

Authorize = Callable[[], Awaitable[str]]


class AuthManager:
    """The token of one API key, shared by the clients of that key that reach Masivo the same
    way (one transport): one authorize at a time, one refresh task. Clients get it from a
    :class:`TokenRegistry` (``acquire``) and give it back (``release``).

    A refused key (400/401/403 from authorize) is not remembered for ever: for
    ``refused_backoff_s`` every caller gets the same error at once, without a request; the next
    use after that asks Masivo again (a key can be re-enabled, a test server reset).

    Nothing the world says can make it loop: after a token arrives, the next authorize request
    waits at least ``floor_s`` (whatever the token's times, the device's clock or a 401 say);
    after a failed one, ``failure_backoff_s`` doubled per failure in a row, up to
    :data:`AUTHORIZE_BACKOFF_CAP_S` (a blip at page load costs a second, not the floor). One
    exception, so a revoked token costs no wait: the first token Masivo rejects (401) is
    replaced at once; a token issued that way and rejected again waits for the floor.

    ``service_clock`` learns the service's time from each token's ``iat`` (and the answers'
    ``Date``, given to it by whoever reads them).
    """

    def __init__(
        self,
        key: tuple[object, ...],
        authorize: Authorize,
        clock: Clock,
        *,
        refused_backoff_s: float = 60.0,
        floor_s: float = 30.0,
        failure_backoff_s: float = 1.0,
        cache: TokenCache | None = None,
        random: Callable[[], float] = lambda: 0.5,
    ) -> None:
        self.key = key
        #: Where its debug lines go: ``masivo_web.debug`` once a client with ``debug=True``
        #: shares it (:meth:`TokenRegistry.acquire`).
        self.log = logger
        self.users = 0
        self._authorize = authorize
        self._clock = clock
        self._refused_backoff_s = refused_backoff_s
        self._floor_s = floor_s
        self._failure_backoff_s = failure_backoff_s
        self._random = random
        #: The service's time, learned from its answers (events are stamped with it).
        self.service_clock = ServiceClock(clock)
        # No authorize request starts before this monotonic time (the floor, and the backoff
        # after failures in a row).
        self._next_start = float("-inf")
        self._failures = 0
        # The at-once replacement of a rejected token is spent until an authorize that waited
        # for the floor succeeds; the authorize under way is that replacement.
        self._quick_spent = False
        self._quick_now = False
        self._state: TokenState | None = None
        # The authorize under way, shared by every caller: each waits on the result, so a
        # caller that is cancelled never cancels the request the others wait on.
        self._pending: Settable[str] | None = None
        self._pending_task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        # The last refusal of the key and the monotonic time until which it is repeated.
        self._refused: tuple[MasivoError, float] | None = None
        self._closed = False
        self._cache = cache
        if cache is not None:
            self._state = self._from_cache(cache)

    def _from_cache(self, cache: TokenCache) -> TokenState | None:
        kept = cache.load()
        if kept is None:
            return None
        now = self._clock.monotonic()
        # Its age by the device's clock, the only clock two pages share (a clock set back
        # meanwhile makes it negative: not trusted).
        age = self._clock.time() - kept.received_epoch
        service_then = None
        if kept.device_offset is not None:
            self.service_clock.seed(kept.device_offset)
            service_then = kept.received_epoch + kept.device_offset
        state = _token_state(kept.token, now, service_then, kept.received_epoch, max(0, age))
        unknown_and_old = state.expires_at is None and age > REFRESH_INTERVAL_S
        if age < 0 or unknown_and_old or not state.usable(now):
            cache.forget()
            return None
        return state

    def reload_cache(self) -> None:
        """The token cache became readable (a worker's page answered): take the token an
        earlier page kept, unless one is held already."""
        if self._cache is not None and self._state is None and not self._closed:
            self._state = self._from_cache(self._cache)

    @property
    def cached_token(self) -> str | None:
        """The current token if it may still be used, without waiting (for the unload path)."""
        if self._state is not None and self._state.usable(self._clock.monotonic()):
            return self._state.token
        return None

    def warm(self) -> None:
        """Have a token soon: authorize now, in the background, unless a token is cached or
        coming; with a token kept from an earlier page, keep it fresh (the refresh task)."""
        if self._closed or self._refusal() is not None:
            return
        if self.cached_token is None:
            if self._pending is None:
                self._start_authorize()
        elif self._refresher is None or self._refresher.done():
            self._refresher = spawn(self._refresh_forever())

    async def get_token(self) -> str:
        """A usable token, authorizing first if needed. Concurrent callers share one request.

        Raises :class:`MasivoAuthError` when Masivo refused the key (again, without a request,
        for a while after a refusal) and :class:`MasivoError` when authorize failed otherwise.
        """
        refused = self._refusal()
        if refused is not None:
            raise refused
        token = self.cached_token
        if token is not None:
            return token
        pending = self._pending
        if pending is None:
            pending = self._start_authorize()
        return await pending.wait()

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after the server rejected it (a newer token is kept)."""
        if self._state is not None and self._state.token == token:
            self._state = None
            if self._cache is not None:
                self._cache.forget()
            if not self._quick_spent and self._pending is None:
                self._quick_spent = self._quick_now = True
                self._next_start = float("-inf")

    def close(self) -> None:
        """Stop the refresh task and forget the token."""
        self._closed = True
        for task in (self._refresher, self._pending_task):
            cancel(task)
        self._refresher = self._pending_task = None
        if self._pending is not None:
            self._pending.set_error(MasivoError("The client was destroyed while authorizing."))
            self._pending = None
        self._state = None

    def forget(self) -> None:
        """Forget what was learned of the key: its refusal, its token and the authorize floor
        (the next use authorizes at once). For tests that start from a clean state."""
        self._refused = None
        self._state = None
        self._next_start = float("-inf")

    def _refusal(self) -> MasivoError | None:
        if self._refused is not None:
            error, until = self._refused
            if self._clock.monotonic() < until:
                return error
            self._refused = None
        return None

    def _start_authorize(self) -> Settable[str]:
        pending: Settable[str] = Settable()
        self._pending = pending
        self._pending_task = spawn(self._authorize_once(pending))
        return pending

    async def _authorize_once(self, pending: Settable[str]) -> None:
        try:
            wait = self._next_start - self._clock.monotonic()
            if wait > 0:
                self.log.debug("masivo_web: next authorize in %.1f s", wait)
                await self._clock.sleep(wait)
            self.log.debug("masivo_web: authorizing")
            token = await self._authorize()
        except (MasivoAuthError, MasivoConfigError) as exc:  # final: no retry can fix it
            self._schedule_next(failed=False)
            self._refused = (exc, self._clock.monotonic() + self._refused_backoff_s)
            self._state = None
            if self._cache is not None:
                self._cache.forget()
            logger.error("masivo_web: %s", exc.message)
            pending.set_error(exc)
        except MasivoError as exc:
            self._schedule_next(failed=True)
            self.log.debug("masivo_web: authorize failed (%s)", exc.message)
            pending.set_error(exc)
        except BaseException as exc:  # cancelled (its loop ended), or a bug: waiters must wake
            pending.set_error(MasivoError(f"Authorization was interrupted: {exc!r}"))
            raise
        else:
            self._schedule_next(failed=False)
            self._state = self._received(token)
            self.log.debug("masivo_web: token received")
            pending.set_value(token)
            if not self._closed and (self._refresher is None or self._refresher.done()):
                self._refresher = spawn(self._refresh_forever())
        finally:
            if self._pending is pending:
                self._pending = self._pending_task = None

    def _received(self, token: str) -> TokenState:
        """The state of a token that just arrived; the service's time learned from it."""
        now = self._clock.monotonic()
        iat = read_token_times(token)[1]
        if iat is not None:
            self.service_clock.observe(iat, received_at=now)
        state = _token_state(token, now, self.service_clock.now(), self._clock.time(), 0.0)
        if self._cache is not None:
            device_offset = self.service_clock.device_offset()
            self._cache.save(KeptToken(token, self._clock.time(), device_offset))
        return state

    def _schedule_next(self, *, failed: bool) -> None:
        """The earliest the next authorize may start: the floor after a token (or a refusal),
        the failure backoff doubled for each failure in a row after a failure (with jitter, so
        clients that failed together spread out)."""
        self._failures = self._failures + 1 if failed else 0
        if not failed and not self._quick_now:
            self._quick_spent = False
        self._quick_now = False
        wait = self._floor_s
        if self._failures:
            doubled = self._failure_backoff_s * 2 ** min(self._failures - 1, 30)
            wait = min(AUTHORIZE_BACKOFF_CAP_S, doubled) * (0.75 + 0.5 * self._random())
        self._next_start = self._clock.monotonic() + wait

    async def _refresh_forever(self) -> None:
        while self._state is not None:
            now = self._clock.monotonic()
            await self._clock.sleep(max(0.0, self._state.refresh_due_at() - now))
            try:
                # The floor and the backoff are the authorize's own: a token due at once, or
                # a refresh that keeps failing, cannot make this loop spin.
                await (self._pending or self._start_authorize()).wait()
            except (MasivoAuthError, MasivoConfigError):
                return  # refused: the next use asks again, after the backoff
            except MasivoError as exc:
                logger.warning("masivo_web: token refresh failed (%s); retrying later", exc)


def _token_state(
    token: str, now: float, service_then: float | None, device_then: float, age: float
) -> TokenState:
    """A token's state, its life read by the service's time at its arrival (``service_then``);
    without it (and without ``iat``), by the device's (``device_then``) if that life is
    plausible, else unknown."""
    state = TokenState.issued(token, now=now, service_now=service_then, age=age)
    if state.expires_at is None:
        by_device = TokenState.issued(token, now=now, service_now=device_then, age=age)
        life = by_device.lifetime
        if life is not None and 0 < life <= PLAUSIBLE_LIFE_S:
            return by_device
    return state
