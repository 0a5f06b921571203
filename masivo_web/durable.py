"""Write-ahead persistence of queued events, so a closed tab loses nothing.

Each queued event is written to storage when it is queued (one small ``setItem``, never a
rewrite of the whole queue: peers.md §7.12) and removed only once it is acknowledged, finally
rejected, or dropped. Keys hold no secret: ``masivo_web:<namespace>:ev:<event_id>``, where the
namespace is a hash of the API key and API base, and the value is
``owner|queued_at|sequence|event-json``.
API keys and tokens are never written.

Every client is an *owner* that stays alive as long as its page. Events of owners that are gone
(a closed tab, a reloaded page) are *orphans*: the next page of the site adopts them and sends
them, under their original ``event_id`` so the server stores each once. Two tabs never adopt the
same orphans: with the Web Locks API, owners hold a lock for their life and adoption runs under
an exclusive lock; without it, owners renew a lease in storage and an adoption claims, waits,
and keeps only the events still claimed by itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .events import PreparedEvent
from .liveness import LeaseLiveness, Liveness, WebLocksLiveness
from .runtime import Clock, Page
from .storage import FallbackStorage, LocalStorage, Storage

logger = logging.getLogger("masivo_web")

#: How often a live owner renews its lease and checks whether another owner has gone.
MAINTENANCE_INTERVAL_S = 5.0
#: A full look for orphans at least this often, even when no live owner was seen to go.
RESCAN_INTERVAL_S = 60.0
#: How long a claim waits before checking that no other tab claimed the same events (fallback).
CLAIM_SETTLE_S = 0.2


def namespace_for(api_key: str, api_base: str) -> str:
    """A storage namespace per key and API base that reveals neither."""
    return hashlib.sha256(f"{api_key}|{api_base}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from storage."""

    event: PreparedEvent
    queued_epoch: float


class EventStore:
    """The stored copies of queued events, one storage key each."""

    def __init__(self, storage: Storage, namespace: str, owner: str) -> None:
        self.storage = storage
        self.owner = owner
        self.prefix = f"masivo_web:{namespace}:ev:"
        # Orders events queued within one millisecond: storage keys come back in any order.
        self._sequence = 0

    def save(self, event: PreparedEvent, queued_epoch: float) -> None:
        """Write ``event`` (before it is sent)."""
        self._sequence += 1
        self.storage.set(self.prefix + event.event_id, self._record(event, queued_epoch))

    def _record(
        self, event: PreparedEvent, queued_epoch: float, sequence: int | None = None
    ) -> str:
        number = self._sequence if sequence is None else sequence
        return f"{self.owner}|{queued_epoch:.3f}|{number}|{event.json}"

    def forget(self, event_id: str) -> None:
        """Remove ``event_id`` (acknowledged, rejected or dropped)."""
        self.storage.remove(self.prefix + event_id)

    def owner_of(self, event_id: str) -> str | None:
        record = self.storage.get(self.prefix + event_id)
        return None if record is None else record.split("|", 1)[0]

    def claim_orphans(self, alive: set[str]) -> list[StoredEvent]:
        """Take over the events of owners not in ``alive``; unreadable records are removed."""
        claimed: list[tuple[float, str, int, StoredEvent]] = []
        for key in self.storage.keys(self.prefix):
            record = self.storage.get(key)
            parsed = _parse(key[len(self.prefix) :], record) if record is not None else None
            if parsed is None:
                self.storage.remove(key)
                continue
            owner, sequence, stored = parsed
            if owner in alive:
                continue
            self.storage.set(key, self._record(stored.event, stored.queued_epoch, sequence))
            claimed.append((stored.queued_epoch, owner, sequence, stored))
        claimed.sort(key=lambda entry: entry[:3])  # the order they were queued in
        return [entry[3] for entry in claimed]


def _parse(event_id: str, record: str) -> tuple[str, int, StoredEvent] | None:
    try:
        owner, queued, sequence, text = record.split("|", 3)
        body = json.loads(text)
        event = PreparedEvent(event_id, str(body["type"]), text, len(text.encode("utf-8")))
        return owner, int(sequence), StoredEvent(event, float(queued))
    except (ValueError, KeyError, TypeError):
        return None


class Persistence:
    """The write-ahead store of one client plus orphan adoption."""

    def __init__(self, store: EventStore, liveness: Liveness, clock: Clock) -> None:
        self.store = store
        self.liveness = liveness
        self._clock = clock
        liveness.hold(store.owner)

    def save(self, event: PreparedEvent, queued_epoch: float) -> None:
        self.store.save(event, queued_epoch)

    def forget(self, event_id: str) -> None:
        self.store.forget(event_id)

    async def adopt_orphans(self) -> list[StoredEvent]:
        """Claim the stored events of owners that are gone; each ends up with one tab only."""

        async def adopt() -> list[StoredEvent]:
            alive = await self.liveness.alive() | {self.store.owner}
            claimed = self.store.claim_orphans(alive)
            if claimed and not self.liveness.exclusive:
                # Another tab may have claimed the same records meanwhile: the last writer wins,
                # and each side keeps only what still names it.
                await self._clock.sleep(CLAIM_SETTLE_S)
                owner = self.store.owner
                claimed = [c for c in claimed if self.store.owner_of(c.event.event_id) == owner]
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

    def close(self) -> None:
        self.liveness.release()


def page_storage(page: Page | None) -> Storage | None:
    """The page's localStorage (falling back to memory if it fails), or None under CPython and
    where the browser's storage is disabled (said once, in the log)."""
    if page is None:
        return None
    if page.local_storage is None:
        logger.warning(
            "masivo_web: browser storage is disabled; queued events are kept in memory only, "
            "and a closed tab may lose them."
        )
        return None
    return FallbackStorage(LocalStorage(page.local_storage))


def persistence_for(
    page: Page | None, storage: Storage | None, namespace: str, owner: str, clock: Clock
) -> Persistence | None:
    """Write-ahead persistence in ``storage`` (None: the queue lives in memory only)."""
    if page is None or storage is None:
        return None
    locks = getattr(page.navigator, "locks", None)
    liveness: Liveness
    if locks is not None:
        liveness = WebLocksLiveness(page, namespace)
    else:
        liveness = LeaseLiveness(storage, namespace, clock)
    return Persistence(EventStore(storage, namespace, owner), liveness, clock)
