"""Which clients (owners of stored events) are alive, and a lock between tabs.

With the Web Locks API an owner holds a lock named after it for as long as its page lives (the
browser releases it when the page dies), and adoption runs under an exclusive lock. Without it,
owners renew a lease in storage; adoption then claims and verifies instead of locking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..rules.ports import Liveness, Storage
from ..runtime.aio import Settable, spawn
from ..runtime.clock import Clock
from .page import Page

T = TypeVar("T")

#: An owner whose lease is older than this is gone (fallback without Web Locks).
LEASE_TTL_S = 15.0


class WebLocksLiveness:
    """Liveness from ``navigator.locks``: an owner holds a lock named after it until its page
    dies (the browser releases it then), so held locks are exactly the live owners."""

    exclusive = True

    def __init__(self, page: Page, namespace: str) -> None:
        self._page = page
        self._locks = page.navigator.locks
        self._prefix = f"masivo_web:{namespace}:owner:"
        self._release: Any = None
        self._proxies: list[Any] = []  # JS keeps calling these; they must stay referenced

    def hold(self, owner: str) -> None:
        def executor(resolve: Any, reject: Any) -> None:
            self._release = resolve

        executor_proxy = self._page.create_proxy(executor)
        granted = self._page.create_proxy(
            lambda lock: self._page.window.Promise.new(executor_proxy)
        )
        self._proxies += [executor_proxy, granted]
        self._locks.request(self._prefix + owner, granted)

    def release(self) -> None:
        if self._release is not None:
            self._release(None)
            self._release = None

    def renew(self) -> None:
        pass

    async def alive(self) -> set[str]:
        snapshot = await self._locks.query()
        names = [str(lock.name) for lock in snapshot.held]
        return {name[len(self._prefix) :] for name in names if name.startswith(self._prefix)}

    async def exclusively(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        outcome: Settable[T] = Settable()

        async def run_then_release(release: Any) -> None:
            try:
                outcome.set_value(await work())
            except Exception as exc:
                outcome.set_error(exc)
            except BaseException:  # cancelled: whoever waits must not wait for ever
                outcome.set_error(RuntimeError("the work under the lock was cancelled"))
                raise
            finally:
                release(None)  # the lock is let go, whatever happened

        def granted(lock: Any) -> Any:
            def executor(resolve: Any, reject: Any) -> None:
                spawn(run_then_release(resolve))

            return self._page.window.Promise.new(self._page.create_proxy(executor))

        proxy = self._page.create_proxy(granted)
        self._locks.request(name, proxy)
        try:
            return await outcome.wait()
        finally:
            destroy = getattr(proxy, "destroy", None)
            if destroy is not None:
                destroy()


class LeaseLiveness:
    """Liveness from leases in storage, for browsers without Web Locks: an owner renews
    ``masivo_web:<ns>:lease:<owner>`` and is gone once it is older than :data:`LEASE_TTL_S`."""

    exclusive = False

    def __init__(self, storage: Storage, namespace: str, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._prefix = f"masivo_web:{namespace}:lease:"
        self._owner: str | None = None

    def hold(self, owner: str) -> None:
        self._owner = owner
        self.renew()

    def renew(self) -> None:
        if self._owner is not None:
            self._storage.set(self._prefix + self._owner, f"{self._clock.time():.3f}")

    def release(self) -> None:
        if self._owner is not None:
            self._storage.remove(self._prefix + self._owner)
            self._owner = None

    async def alive(self) -> set[str]:
        now = self._clock.time()
        owners = set()
        for key in self._storage.keys(self._prefix):
            try:
                renewed = float(self._storage.get(key) or "0")
            except ValueError:
                continue
            if now - renewed < LEASE_TTL_S:
                owners.add(key[len(self._prefix) :])
        return owners

    async def exclusively(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        return await work()  # no lock here: claims are verified instead


def liveness_for(page: Page, storage: Storage, namespace: str, clock: Clock) -> Liveness:
    """Web Locks where the page has them, else leases in ``storage``."""
    if getattr(page.navigator, "locks", None) is not None:
        return WebLocksLiveness(page, namespace)
    return LeaseLiveness(storage, namespace, clock)
