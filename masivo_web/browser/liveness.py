"""Which clients (owners of stored events) are alive, and a lock between tabs.

An owner declares itself alive with a lease in storage, renewed every few seconds, while its
page is visible, and with a Web Lock named after it while the page is hidden (a hidden tab's
timers are throttled, down to once a minute, too rarely to renew a lease; the browser releases
the lock when the page dies). A page holding a Web Lock is never kept in the back-forward
cache, and a visitor leaves a page from its visible state: so a visible page holds no lock, and
the back/forward navigations stay instant. At ``pagehide`` the owner declares itself gone
(:meth:`release`): its page may be cached, frozen, and adopted from; it declares itself alive
again when the page is restored (:meth:`hold`). Adoption runs under an exclusive Web Lock,
held for a few milliseconds. A worker's client holds its lock for its life (its page's
``pagehide`` reaches it by message, maybe too late). Without Web Locks, leases alone; adoption
then claims and verifies instead of locking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..rules.ports import Liveness, Storage
from ..runtime.aio import Settable, spawn
from ..runtime.clock import Clock
from .page import Page

T = TypeVar("T")

#: An owner whose lease is older than this is gone.
LEASE_TTL_S = 15.0


class WebLocksLiveness:
    """Leases while the page is visible, a Web Lock while it is hidden; live owners are those
    with a fresh lease or a held lock."""

    exclusive = True

    def __init__(
        self, page: Page, storage: Storage, namespace: str, clock: Clock, *, always: bool = False
    ) -> None:
        self._page = page
        # A worker's client holds its lock while visible too: its page's pagehide reaches it
        # by message, maybe after the tab is gone, so a lease could outlive a closed tab.
        self._always = always
        self._locks = page.navigator.locks
        self._leases = LeaseLiveness(storage, namespace, clock)
        self._prefix = f"masivo_web:{namespace}:owner:"
        self._owner: str | None = None
        self._locked = False  # requested; ``_release`` once granted
        self._requests = 0  # the lock granted for an older request is let go at once
        self._release: Any = None
        self._proxies: list[Any] = []  # JS keeps calling these; they must stay referenced
        self._listener = page.create_proxy(self._visibility_changed)
        page.document.addEventListener("visibilitychange", self._listener)

    def hold(self, owner: str) -> None:
        self._owner = owner
        self._visibility_changed()

    def _visibility_changed(self, event: Any = None) -> None:
        if self._owner is None:
            return  # gone (left, or destroyed): nothing to declare
        if self._always or str(self._page.document.visibilityState) == "hidden":
            self._lock(self._owner)
        else:
            self._leases.hold(self._owner)  # the lease first: never neither
            self._unlock()

    def _lock(self, owner: str) -> None:
        if self._locked:
            return
        self._locked = True
        self._requests += 1
        request = self._requests

        def executor(resolve: Any, reject: Any) -> None:
            if not self._locked or request != self._requests:  # shown or left meanwhile
                resolve(None)
                return
            self._release = resolve
            self._leases.release()  # the lock says it now, and dies with the page

        executor_proxy = self._page.create_proxy(executor)
        granted = self._page.create_proxy(
            lambda lock: self._page.window.Promise.new(executor_proxy)
        )
        self._proxies += [executor_proxy, granted]
        self._locks.request(self._prefix + owner, granted)

    def _unlock(self) -> None:
        self._locked = False
        if self._release is not None:
            self._release(None)
            self._release = None

    def release(self) -> None:
        self._owner = None
        self._leases.release()
        self._unlock()

    def close(self) -> None:
        """The client is destroyed: declared gone, and its page listener removed."""
        self.release()
        self._page.document.removeEventListener("visibilitychange", self._listener)
        destroy = getattr(self._listener, "destroy", None)  # Pyodide's proxies; not MicroPython's
        if destroy is not None:
            destroy()

    def renew(self) -> None:
        if not self._locked:
            self._leases.renew()

    async def alive(self) -> set[str]:
        snapshot = await self._locks.query()
        names = [str(lock.name) for lock in snapshot.held]
        held = {name[len(self._prefix) :] for name in names if name.startswith(self._prefix)}
        return held | await self._leases.alive()

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

    def close(self) -> None:
        """The client is destroyed: declared gone."""
        self.release()

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
        return WebLocksLiveness(page, storage, namespace, clock, always=page.link is not None)
    return LeaseLiveness(storage, namespace, clock)
