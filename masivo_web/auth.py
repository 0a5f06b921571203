"""Bearer tokens: one per API key, shared by every client of that key, refreshed ahead of time.

:class:`TokenState` is the pure part (token, expiry, when to refresh) and is tested with a fake
clock. :class:`AuthManager` adds the shared authorize-in-flight and the single refresh task; the
HTTP exchange itself is the ``authorize`` coroutine function its first client hands in.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable

from ._record import Record
from .errors import MasivoAuthError, MasivoError
from .runtime import Clock

logger = logging.getLogger("masivo_web")

#: @masivo/core refreshes every 5 minutes...
REFRESH_INTERVAL_S = 300.0
#: ...and at the latest this long before ``exp``.
REFRESH_BEFORE_EXPIRY_S = 300.0
#: A token this close to ``exp`` is not used for a new request.
EXPIRY_MARGIN_S = 10.0
#: After a failed background refresh, try again this soon (the old token may still be valid).
REFRESH_RETRY_S = 30.0

Authorize = Callable[[], Awaitable[str]]


def read_token_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, or None when it has none.

    Only ``exp`` is documented, so the token is otherwise opaque; the signature is the server's
    business, not the client's.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class TokenState(Record):
    """A token and the monotonic times that govern it; ``expires_at`` is the monotonic time of
    ``exp``, None when the token does not say."""

    __slots__ = ("expires_at", "obtained_at", "token")
    _hidden = frozenset({"token"})  # a token never reaches a log

    def __init__(self, token: str, obtained_at: float, expires_at: float | None) -> None:
        self.token = token
        self.obtained_at = obtained_at
        self.expires_at = expires_at

    @classmethod
    def issued(cls, token: str, *, now: float, now_epoch: float) -> TokenState:
        """State for a token just received (``exp`` converted to the monotonic clock)."""
        exp = read_token_expiry(token)
        return cls(token, now, None if exp is None else now + (exp - now_epoch))

    def usable(self, now: float) -> bool:
        """Whether a new request may carry this token."""
        return self.expires_at is None or now < self.expires_at - EXPIRY_MARGIN_S

    def refresh_due_at(self) -> float:
        """When to fetch the next token: every 5 minutes, and 5 minutes before expiry at the
        latest. A token too short-lived for that margin is refreshed at half its life (the
        margin would otherwise mean refreshing in a tight loop)."""
        due = self.obtained_at + REFRESH_INTERVAL_S
        if self.expires_at is not None:
            lifetime = self.expires_at - self.obtained_at
            before_expiry = self.expires_at - REFRESH_BEFORE_EXPIRY_S
            if before_expiry - self.obtained_at < lifetime / 10:
                before_expiry = self.obtained_at + lifetime / 2
            due = min(due, before_expiry)
        return due


class AuthManager:
    """The token of one API key, shared by all its clients: one authorize at a time, one
    refresh task. Created and released through :func:`acquire` / :func:`release`."""

    def __init__(self, key: tuple[str, str], authorize: Authorize, clock: Clock) -> None:
        self.key = key
        self.users = 0
        #: Calls to ``authorize`` made so far (for tests and diagnostics).
        self.authorize_calls = 0
        self._authorize = authorize
        self._clock = clock
        self._state: TokenState | None = None
        self._pending: asyncio.Task[str] | None = None
        self._refresher: asyncio.Task[None] | None = None
        # A refusal that no retry can fix (server key, unknown key): reported, never retried.
        self._fatal: MasivoAuthError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def cached_token(self) -> str | None:
        """The current token if it may still be used, without waiting (for the unload path)."""
        if self._state is not None and self._state.usable(self._clock.monotonic()):
            return self._state.token
        return None

    async def get_token(self) -> str:
        """A usable token, authorizing first if needed. Concurrent callers share one request."""
        if self._fatal is not None:
            raise self._fatal
        token = self.cached_token
        if token is not None:
            return token
        return await self._shared_authorize()

    def invalidate(self, token: str) -> None:
        """Forget ``token`` after the server rejected it (a newer token is kept)."""
        if self._state is not None and self._state.token == token:
            self._state = None

    def close(self) -> None:
        """Stop the refresh task and forget the token."""
        for task in (self._refresher, self._pending):
            if task is not None and not task.done():
                task.cancel()
        self._refresher = self._pending = None
        self._state = None

    async def _shared_authorize(self) -> str:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # The manager outlived a loop (a new asyncio.run); tasks of the old one are dead.
            self._loop, self._pending, self._refresher = loop, None, None
        if self._pending is None:
            self._pending = loop.create_task(self._authorize_once())
            self._pending.add_done_callback(self._forget_pending)
        # shield: a caller that is cancelled must not cancel the request others wait on.
        return await asyncio.shield(self._pending)

    def _forget_pending(self, task: asyncio.Task[str]) -> None:
        if self._pending is task:
            self._pending = None
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter re-raises it

    async def _authorize_once(self) -> str:
        self.authorize_calls += 1
        try:
            token = await self._authorize()
        except MasivoAuthError as exc:
            self._fatal = exc
            logger.error("masivo_web: %s", exc.message)
            raise
        self._state = TokenState.issued(
            token, now=self._clock.monotonic(), now_epoch=self._clock.time()
        )
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())
        return token

    async def _refresh_forever(self) -> None:
        while self._fatal is None:
            state = self._state
            now = self._clock.monotonic()
            due = state.refresh_due_at() if state is not None else now
            await self._clock.sleep(max(0.0, due - now))
            try:
                await self._shared_authorize()
            except MasivoError as exc:
                if self._fatal is not None:
                    return
                logger.warning("masivo_web: token refresh failed (%s); retrying soon", exc)
                await self._clock.sleep(REFRESH_RETRY_S)


_registry: dict[tuple[str, str], AuthManager] = {}


def acquire(api_key: str, auth_url: str, authorize: Authorize, clock: Clock) -> AuthManager:
    """The shared manager for ``api_key`` at ``auth_url``, created on first use."""
    key = (auth_url, api_key)
    manager = _registry.get(key)
    if manager is None:
        manager = _registry[key] = AuthManager(key, authorize, clock)
    manager.users += 1
    return manager


def release(manager: AuthManager) -> None:
    """One client is done with ``manager``; the last one closes it and drops it from the
    registry, so the next client of that key starts fresh."""
    manager.users -= 1
    if manager.users <= 0:
        manager.close()
        if _registry.get(manager.key) is manager:
            del _registry[manager.key]
