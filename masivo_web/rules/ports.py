"""The ports the delivery engine is written against, with no browser behind them: a string
key-value :class:`Storage` (its simplest adapter, :class:`MemoryStorage`, is here too) and
:class:`Liveness` (which owners of stored events are alive, and a lock between tabs). The page's
adapters are in :mod:`masivo_web.browser`; ``create_client`` hands them in. (The HTTP port,
``Transport``, is in :mod:`masivo_web.rules.http`.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Storage(Protocol):
    """A string key-value store. ``set`` may raise when the store is full or disabled."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def remove(self, key: str) -> None: ...

    def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``."""
        ...


class MemoryStorage:
    """A dict: storage that lasts as long as the interpreter."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.items.get(key)

    def set(self, key: str, value: str) -> None:
        self.items[key] = value

    def remove(self, key: str) -> None:
        self.items.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        return [key for key in self.items if key.startswith(prefix)]


class Liveness(Protocol):
    """Which owners are alive, and mutual exclusion between tabs."""

    #: True when ``exclusively`` is a real cross-tab lock.
    exclusive: bool

    def hold(self, owner: str) -> None:
        """Declare ``owner`` alive for as long as this page lives."""
        ...

    def release(self) -> None:
        """``owner`` is gone (its page was left: it may come back with ``hold``)."""
        ...

    def close(self) -> None:
        """The client was destroyed: gone, and nothing of it left listening."""
        ...

    async def alive(self) -> set[str]: ...

    async def exclusively(self, name: str, work: Callable[[], Awaitable[T]]) -> T: ...

    def renew(self) -> None:
        """Keep the declaration fresh (leases only)."""
        ...
