"""The in-memory event queue: which events go in the next batch, and when (pure, no I/O).

Flush triggers from @masivo/core: ``batch_size`` events queued, ``idle_flush_s`` with no new
event, ``max_wait_s`` since the oldest queued event, or a manual flush. Retried events come back
to the front (order is kept) and wait for their own backoff instead of the batching timers.
"""

from __future__ import annotations

from .events import PreparedEvent
from .results import Delivery

#: Masivo's body limit on the batch route (docs/masivo-api.md): 500 KB.
MAX_BATCH_BYTES = 500 * 1024
#: ``{"events":[`` + ``]}``: the bytes a batch body adds around its events.
_ENVELOPE_BYTES = len('{"events":[]}')


class QueuedEvent:
    """One event waiting in the queue, with its delivery state (compared by identity)."""

    __slots__ = ("attempts", "delivery", "enqueued_at", "event", "handed_off", "ready_at", "seq")

    def __init__(
        self, event: PreparedEvent, delivery: Delivery, seq: int, enqueued_at: float
    ) -> None:
        self.event = event
        self.delivery = delivery
        self.seq = seq
        self.enqueued_at = enqueued_at
        #: Sends already tried and failed in a retryable way.
        self.attempts = 0
        #: Monotonic time before which this event must not be sent again (backoff).
        self.ready_at = 0.0
        #: The epoch time it was queued at, while its stored copy is forgotten because a page
        #: hide handed it to a keepalive request (stored again if that request fails).
        self.handed_off: float | None = None


class EventQueue:
    """Events waiting to be sent, in the order they were given."""

    def __init__(
        self,
        *,
        batch_size: int,
        idle_flush_s: float,
        max_wait_s: float,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.batch_size = batch_size
        self.idle_flush_s = idle_flush_s
        self.max_wait_s = max_wait_s
        self.max_batch_bytes = max_batch_bytes
        self._items: list[QueuedEvent] = []
        #: UTF-8 bytes of the queued events' JSON.
        self.size_bytes = 0
        self._next_seq = 0
        self._last_enqueued_at: float | None = None
        # Events with seq <= this were queued before a manual flush() and are due at once.
        self._flush_through_seq = -1
        # Nothing is due before this monotonic time (see hold_until).
        self._held_until = 0.0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[QueuedEvent]:
        """The queued events, oldest first (read only)."""
        return self._items

    def append(self, event: PreparedEvent, delivery: Delivery, now: float) -> QueuedEvent:
        """Queue one validated event."""
        item = QueuedEvent(event, delivery, self._next_seq, now)
        self._next_seq += 1
        self._items.append(item)
        self.size_bytes += event.size
        self._last_enqueued_at = now
        return item

    def request_flush(self) -> None:
        """Make every event queued so far due now (retries still respect their backoff)."""
        self._flush_through_seq = self._next_seq - 1

    def hold_until(self, ready_at: float) -> None:
        """No event, queued now or later, is sent before ``ready_at`` (just after the network
        came back; a server's Retry-After)."""
        self._held_until = max(self._held_until, ready_at)

    def deliveries(self) -> list[Delivery]:
        """The deliveries of every queued event, oldest first."""
        return [item.delivery for item in self._items]

    def is_full(self, now: float) -> bool:
        """Whether ``batch_size`` events are ready to go (the count trigger)."""
        return sum(1 for item in self._items if item.ready_at <= now) >= self.batch_size

    def next_due(self, now: float) -> float | None:
        """The monotonic time at which a batch is due, or None when the queue is empty."""
        if not self._items:
            return None
        if now < self._held_until:
            return self._held_until
        if self.is_full(now):
            return now
        oldest_fresh = min(
            (item.enqueued_at for item in self._items if not self._urgent(item)), default=None
        )
        timer_due = float("inf")
        if oldest_fresh is not None and self._last_enqueued_at is not None:
            timer_due = min(
                oldest_fresh + self.max_wait_s, self._last_enqueued_at + self.idle_flush_s
            )
        return min(
            max(item.ready_at, 0.0 if self._urgent(item) else timer_due) for item in self._items
        )

    def take_batch(self, now: float, max_body_bytes: int | None = None) -> list[QueuedEvent]:
        """Remove and return the next batch if one is due: ready events, oldest first, at most
        ``batch_size`` of them and ``max_batch_bytes`` (or ``max_body_bytes``) of body. Empty
        when nothing is due, or when not even the first fits ``max_body_bytes``."""
        due = self.next_due(now)
        if due is None or due > now or now < self._held_until:
            return []
        ready = [item for item in self._items if item.ready_at <= now]
        if max_body_bytes is None:
            return self._take(ready, self.max_batch_bytes)
        return self._take(ready, min(max_body_bytes, self.max_batch_bytes), strict=True)

    def take_for_unload(self, max_body_bytes: int) -> list[QueuedEvent]:
        """Remove and return the oldest events whose batch body fits ``max_body_bytes``,
        ignoring timers and backoff: the page is going away and this is the last chance."""
        return self._take(self._items, min(max_body_bytes, self.max_batch_bytes), strict=True)

    def unload_batches(self, max_body_bytes: int) -> list[list[QueuedEvent]]:
        """What :meth:`take_for_unload`, called until it takes nothing, would take with
        ``max_body_bytes`` in all, without taking it: the batches of a page-hide plan."""
        batches = []
        rest, room = self._items, max_body_bytes
        while rest:
            batch, size = self._fit(rest, min(room, self.max_batch_bytes), strict=True)
            if not batch:
                break
            batches.append(batch)
            rest, room = rest[len(batch) :], room - size
        return batches

    def take_exactly(self, event_ids: list[str]) -> list[QueuedEvent] | None:
        """Remove and return the queued events ``event_ids``, in their order; None (nothing
        removed) unless every one of them is queued."""
        queued = {item.event.event_id: item for item in self._items}
        items = [queued.get(event_id) for event_id in event_ids]
        found = [item for item in items if item is not None]
        if len(found) != len(event_ids) or not found:
            return None
        self._remove(found)
        return found

    def _take(
        self, candidates: list[QueuedEvent], max_body_bytes: int, *, strict: bool = False
    ) -> list[QueuedEvent]:
        batch, _ = self._fit(candidates, max_body_bytes, strict=strict)
        self._remove(batch)
        return batch

    def _fit(
        self, candidates: list[QueuedEvent], max_body_bytes: int, *, strict: bool = False
    ) -> tuple[list[QueuedEvent], int]:
        """The first of ``candidates`` whose batch fits ``max_body_bytes``, and its body size.
        ``strict``: even the first event must fit (a keepalive body over budget is refused)."""
        batch: list[QueuedEvent] = []
        body_bytes = _ENVELOPE_BYTES
        for item in candidates:
            cost = item.event.size + (1 if batch else 0)  # the comma between events
            too_big = (batch or strict) and body_bytes + cost > max_body_bytes
            if len(batch) == self.batch_size or too_big:
                break
            batch.append(item)
            body_bytes += cost
        return batch, body_bytes

    def evict_over_bounds(self, max_events: int, max_bytes: int) -> list[QueuedEvent]:
        """Remove and return the oldest events while the queue is over either bound."""
        excess_bytes = self.size_bytes - max_bytes
        excess_count = len(self._items) - max_events
        if excess_count <= 0 and excess_bytes <= 0:
            return []
        count = 0
        for item in self._items:
            if excess_count <= 0 and excess_bytes <= 0:
                break
            count += 1
            excess_count -= 1
            excess_bytes -= item.event.size
        evicted = self._items[:count]  # the oldest: a prefix, removed without a rebuild
        del self._items[:count]
        self.size_bytes -= sum(item.event.size for item in evicted)
        return evicted

    def take_expired(self, now: float, max_age_s: float) -> list[QueuedEvent]:
        """Remove and return the events queued more than ``max_age_s`` ago."""
        expired = [item for item in self._items if now - item.enqueued_at > max_age_s]
        self._remove(expired)
        return expired

    def _remove(self, items: list[QueuedEvent]) -> None:
        if items:
            gone = {id(item) for item in items}
            self._items = [item for item in self._items if id(item) not in gone]
            self.size_bytes -= sum(item.event.size for item in items)

    def put_back(
        self, items: list[QueuedEvent], ready_at: float, *, count_attempt: bool = True
    ) -> None:
        """Return taken events to the queue, in order, to be sent again from ``ready_at``
        (a failed try counts as an attempt; a request abandoned unanswered does not)."""
        for item in items:
            if count_attempt:
                item.attempts += 1
            item.ready_at = ready_at
        self._items = sorted(self._items + items, key=lambda item: item.seq)
        self.size_bytes += sum(item.event.size for item in items)

    def clear(self) -> list[QueuedEvent]:
        """Remove and return every queued event."""
        items, self._items = self._items, []
        self.size_bytes = 0
        return items

    def _urgent(self, item: QueuedEvent) -> bool:
        # A retried event or one covered by a manual flush waits only for its backoff.
        return item.attempts > 0 or item.seq <= self._flush_through_seq
