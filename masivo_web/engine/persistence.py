"""A client's write-ahead persistence in a page: its
:class:`~masivo_web.engine.event_store.EventStore` plus the adoption of the events of pages that are
gone (a closed tab, a reloaded page), so each ends up with exactly one live page. See
:mod:`masivo_web.engine.event_store` for the stored format."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..rules.events import PreparedEvent
from ..rules.ports import Liveness
from ..runtime.clock import Clock
from .event_store import EventStore, StoredEvent

logger = logging.getLogger("masivo_web")

#: How often a live owner renews its lease and checks whether another owner has gone.
MAINTENANCE_INTERVAL_S = 5.0
#: A full look for orphans at least this often, even when no live owner was seen to go.
RESCAN_INTERVAL_S = 60.0
#: How long a claim waits before checking that no other tab claimed the same events (fallback).
CLAIM_SETTLE_S = 0.2


class Persistence:
    """The write-ahead store of one client plus orphan adoption."""

    def __init__(self, store: EventStore, liveness: Liveness, clock: Clock) -> None:
        self.store = store
        #: ``save(event, queued_epoch)``: the store's own, without a call in between (per event).
        self.save: Callable[[PreparedEvent, float], None] = store.save
        self.liveness = liveness
        self._clock = clock
        liveness.hold(store.owner)

    def write(self) -> None:
        """Store what was saved since the last write, now (before a send, at page hide)."""
        self.store.write()

    def forget(self, event_id: str) -> None:
        self.store.forget(event_id)

    def without(self, event_ids: list[str]) -> dict[str, str | None]:
        """The storage writes that would take ``event_ids`` out (a worker's page applies them
        at page hide)."""
        return self.store.without(event_ids)

    async def adopt_orphans(self) -> list[StoredEvent]:
        """Claim the stored events of owners that are gone; each ends up with one tab only."""

        async def adopt() -> list[StoredEvent]:
            alive = await self.liveness.alive() | {self.store.owner}
            claimed = self.store.claim_orphans(alive)
            if claimed and not self.liveness.exclusive:
                # Another tab may have claimed the same records meanwhile: the last writer wins,
                # and each side keeps only what still names it.
                await self._clock.sleep(CLAIM_SETTLE_S)
                claimed = self.store.keep_claims(claimed)
            return claimed

        return await self.liveness.exclusively(f"{self.store.prefix}adopt", adopt)

    async def maintain(self, adopted: Callable[[list[StoredEvent]], None]) -> None:
        """Forever: renew the lease, and adopt orphans at once, whenever a live owner has gone,
        and every :data:`RESCAN_INTERVAL_S` (an owner may live and die between two looks).

        Scanning reads every storage key through the JS bridge, so it is not done every few
        seconds: orphans only appear when an owner goes away.
        """
        seen: set[str] | None = None
        last_scan = self._clock.monotonic()
        while True:
            self.liveness.renew()
            try:
                alive = await self.liveness.alive()
                now = self._clock.monotonic()
                gone = seen is None or bool(seen - alive)
                orphans: list[StoredEvent] = []
                if gone or now - last_scan >= RESCAN_INTERVAL_S:
                    orphans, last_scan = await self.adopt_orphans(), now
                seen = alive
            except Exception:  # storage or lock trouble must not stop the SDK
                logger.exception("masivo_web: looking for unsent events of closed tabs failed")
                orphans = []
            if orphans:
                adopted(orphans)
            await self._clock.sleep(MAINTENANCE_INTERVAL_S)

    def left(self) -> None:
        """The page was left, and may be kept in the back-forward cache: stored as it is, and
        declared gone (the cache takes no page holding a Web Lock). Another tab may adopt its
        events meanwhile, as after a page that died."""
        self.store.write()
        self.liveness.release()

    async def restored(self) -> list[str]:
        """The page came back from the cache: alive again, and the events another tab took
        while it was away (they are that tab's to send) let go of; returns their ids."""
        self.liveness.hold(self.store.owner)

        async def let_go() -> list[str]:
            return self.store.let_go_of_taken()

        return await self.liveness.exclusively(f"{self.store.prefix}adopt", let_go)

    def close(self) -> None:
        self.store.write()
        self.liveness.close()
