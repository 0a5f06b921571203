"""Bearer tokens: one per API key, shared by every client of that key, refreshed ahead of time.

:class:`AuthManager` holds the shared authorize-in-flight and the single refresh task (the
token's own state is :mod:`masivo_web.tokens`); the HTTP exchange itself is the ``authorize``
coroutine function its first client hands in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .aio import Settable, cancel, spawn
from .errors import MasivoAuthError, MasivoConfigError, MasivoError
from .runtime import Clock
from .tokens import TokenCache, TokenState

logger = logging.getLogger("masivo_web")

#: After a failed background refresh, try again this soon (the old token may still be valid).
REFRESH_RETRY_S = 30.0

Authorize = Callable[[], Awaitable[str]]


class AuthManager:
    """The token of one API key, shared by the clients of that key that reach Masivo the same
    way (one transport): one authorize at a time, one refresh task. Clients get it from a
    :class:`TokenRegistry` (``acquire``) and give it back (``release``).

    A refused key (400/401/403 from authorize) is not remembered for ever: for
    ``refused_backoff_s`` every caller gets the same error at once, without a request; the next
    use after that asks Masivo again (a key can be re-enabled, a test server reset).
    """

    def __init__(
        self,
        key: tuple[object, ...],
        authorize: Authorize,
        clock: Clock,
        *,
        refused_backoff_s: float = 60.0,
        cache: TokenCache | None = None,
    ) -> None:
        self.key = key
        self.users = 0
        #: Calls to ``authorize`` made so far (for tests and diagnostics).
        self.authorize_calls = 0
        self._authorize = authorize
        self._clock = clock
        self._refused_backoff_s = refused_backoff_s
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
        token, issued_epoch = kept
        now, now_epoch = self._clock.monotonic(), self._clock.time()
        fresh = TokenState.issued(token, now=now, now_epoch=now_epoch)
        state = TokenState(token, now - max(0.0, now_epoch - issued_epoch), fresh.expires_at)
        if not state.usable(now):
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
        self.authorize_calls += 1
        logger.debug("masivo_web: authorizing")
        try:
            token = await self._authorize()
        except (MasivoAuthError, MasivoConfigError) as exc:  # final: no retry can fix it
            self._refused = (exc, self._clock.monotonic() + self._refused_backoff_s)
            self._state = None
            if self._cache is not None:
                self._cache.forget()
            logger.error("masivo_web: %s", exc.message)
            pending.set_error(exc)
        except MasivoError as exc:
            logger.debug("masivo_web: authorize failed (%s)", exc.message)
            pending.set_error(exc)
        except BaseException as exc:  # cancelled (its loop ended), or a bug: waiters must wake
            pending.set_error(MasivoError(f"Authorization was interrupted: {exc!r}"))
            raise
        else:
            now_epoch = self._clock.time()
            self._state = TokenState.issued(token, now=self._clock.monotonic(), now_epoch=now_epoch)
            if self._cache is not None:
                self._cache.save(token, now_epoch)
            logger.debug("masivo_web: token received")
            pending.set_value(token)
            if not self._closed and (self._refresher is None or self._refresher.done()):
                self._refresher = spawn(self._refresh_forever())
        finally:
            if self._pending is pending:
                self._pending = self._pending_task = None

    async def _refresh_forever(self) -> None:
        while self._state is not None:
            now = self._clock.monotonic()
            await self._clock.sleep(max(0.0, self._state.refresh_due_at() - now))
            try:
                await (self._pending or self._start_authorize()).wait()
            except (MasivoAuthError, MasivoConfigError):
                return  # refused: the next use asks again, after the backoff
            except MasivoError as exc:
                logger.warning("masivo_web: token refresh failed (%s); retrying soon", exc)
                await self._clock.sleep(REFRESH_RETRY_S)
                if self._state is None:  # expired meanwhile: the next use authorizes
                    return


class TokenRegistry:
    """The token managers of a process: one per (auth URL, API key, transport), shared by the
    clients with that key, the last to release it closes it. ``create_client`` uses
    :data:`shared_tokens` unless given another registry (tests give each test its own)."""

    def __init__(self) -> None:
        self._managers: dict[tuple[object, ...], AuthManager] = {}

    def __len__(self) -> int:
        return len(self._managers)

    def managers(self) -> list[AuthManager]:
        """The managers in use (for diagnostics and tests)."""
        return list(self._managers.values())

    def acquire(
        self,
        api_key: str,
        auth_url: str,
        transport: object,
        authorize: Authorize,
        clock: Clock,
        *,
        refused_backoff_s: float = 60.0,
        cache: TokenCache | None = None,
    ) -> AuthManager:
        """The manager for ``api_key`` at ``auth_url`` through ``transport``, made on first use
        (starting from the token ``cache`` kept, if any)."""
        key = (auth_url, api_key, id(transport))
        manager = self._managers.get(key)
        if manager is None:
            manager = AuthManager(
                key, authorize, clock, refused_backoff_s=refused_backoff_s, cache=cache
            )
            self._managers[key] = manager
        manager.users += 1
        return manager

    def release(self, manager: AuthManager) -> None:
        """One client is done with ``manager``; the last one closes it and forgets it."""
        manager.users -= 1
        if manager.users <= 0:
            manager.close()
            if self._managers.get(manager.key) is manager:
                del self._managers[manager.key]


#: The process's registry: clients of one key in one page (or process) share one token.
shared_tokens = TokenRegistry()
