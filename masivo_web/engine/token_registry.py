"""The token managers of a process, one per API key (and auth URL and transport), shared by the
clients of that key: so a page or a server with several clients authorizes once per key."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..rules.token_state import TokenCache
from ..runtime.clock import Clock
from ..runtime.host import after_fork
from .auth import AuthManager, Authorize


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
        floor_s: float = 30.0,
        failure_backoff_s: float = 1.0,
        cache: TokenCache | None = None,
        random: Callable[[], float] = lambda: 0.5,
        log: logging.Logger | None = None,
    ) -> AuthManager:
        """The manager for ``api_key`` at ``auth_url`` through ``transport``, made on first use
        (starting from the token ``cache`` kept, if any)."""
        key = (auth_url, api_key, id(transport))
        manager = self._managers.get(key)
        if manager is None:
            manager = AuthManager(
                key,
                authorize,
                clock,
                refused_backoff_s=refused_backoff_s,
                floor_s=floor_s,
                failure_backoff_s=failure_backoff_s,
                cache=cache,
                random=random,
            )
            self._managers[key] = manager
        manager.users += 1
        if log is not None:  # a client with debug=True: the shared manager's lines show too
            manager.log = log
        return manager

    def forget(self) -> None:
        """Make every manager forget its key's refusal and token: the next event of each
        authorizes at once (a test suite's clean state; the pytest plugin's
        ``fresh_masivo_emulator`` does it before each test)."""
        for manager in self._managers.values():
            manager.forget()

    def release(self, manager: AuthManager) -> None:
        """One client is done with ``manager``; the last one closes it and forgets it."""
        manager.users -= 1
        if manager.users <= 0:
            manager.close()
            if self._managers.get(manager.key) is manager:
                del self._managers[manager.key]


#: The process's registry: clients of one key in one page (or process) share one token.
shared_tokens = TokenRegistry()
# A forked child starts with no token manager: the parent's wait on tasks of a loop that
# stayed in the parent (they are dropped, not closed: closing would touch that loop).
after_fork(shared_tokens._managers.clear)
