"""The outbox: the one owner of every event from the tracking call to its settlement.

It alone holds what is queued (an :class:`~masivo_web.rules.queue.EventQueue`), what was taken for a
request (a :class:`Batch`, *taken* until its request starts, then *sent*), the page's keepalive
bytes its requests reserved, and the stored copies; and it settles each event exactly once.
``where(event_id)`` answers "where is this event now" from here alone.

It does no waiting of its own: the :class:`~masivo_web.engine.flusher.Flusher` decides *when* a
batch is taken and walks each batch along its one path (take, authorize, request, answer, settle),
and the page-hide handler asks it to start, synchronously, what it can. Taking and starting,
and what happens at page hide, are its outgoing half (:mod:`masivo_web.engine.outgoing`); here
are what comes in and how each event is settled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import MasivoDroppedError, MasivoError
from ..rules.config import Settings
from ..rules.events import PreparedEvent
from ..rules.policy import DeliveryPolicy
from ..rules.queue import EventQueue, QueuedEvent
from ..rules.results import Delivery, DropSummary, SendEventResult, log_failure
from ..rules.retry import Outcome, backoff_delay, final_error, log_retry
from ..rules.service_clock import ServiceClock
from ..runtime.clock import Clock
from .event_store import StoredEvent
from .outgoing import Outgoing
from .persistence import Persistence
from .wire import Batch, Wire

logger = logging.getLogger("masivo_web")

#: Called with each failure nobody awaited: (error, event_id).
Reporter = Callable[[MasivoError, str], None]


class Outbox(Outgoing):
    """Queued, taken and sent events of one client, and their settlement."""

    def __init__(
        self,
        settings: Settings,
        policy: DeliveryPolicy,
        *,
        wire: Wire,
        clock: Clock,
        random: Callable[[], float],
        persistence: Persistence | None = None,
        report: Reporter | None = None,
        on_change: Callable[[], None] = lambda: None,
        service_clock: ServiceClock | None = None,
    ) -> None:
        self._settings = settings
        self._policy = policy
        self._wire = wire
        self._clock = clock
        self._random = random
        self._service_clock = service_clock
        self.queue = EventQueue(
            batch_size=settings.batch_size,
            idle_flush_s=settings.idle_flush_s,
            max_wait_s=settings.max_wait_s,
        )
        self._batches: list[Batch] = []
        self.persistence = persistence
        self.report = report or log_failure
        self._drop_summary = DropSummary()
        #: Called when a batch ends (room for another, or retries to schedule).
        self.on_change = on_change
        #: Called when a batch was settled or abandoned: what a page hide would do changed
        #: (a worker's link sends its page the new plan).
        self.on_settled: Callable[[], None] = lambda: None
        self.closed = False
        #: Whether the service's last word was normal: no answer yet (a token is needed to
        #: send at all), or the last batch settled without a retryable failure. Events are
        #: handed off at page hide only while it is (:meth:`hand_off`).
        self.healthy = True

    def __len__(self) -> int:
        """Events queued, not taken yet."""
        return len(self.queue)

    @property
    def batches(self) -> int:
        """Batches taken and not settled yet (their requests on the wire, or about to be)."""
        return len(self._batches)

    def where(self, event_id: str) -> str | None:
        """``"queued"``, ``"taken"`` (its request not started yet), ``"sent"`` (on the wire,
        unanswered), or None: settled, or never here."""
        for batch in self._batches:
            for item in batch.items:
                if item.event.event_id == event_id:
                    return "taken" if batch.sent is None else "sent"
        for item in self.queue.items:
            if item.event.event_id == event_id:
                return "queued"
        return None

    def unsettled(self) -> list[Delivery]:
        """The deliveries of every event not settled yet, taken ones first."""
        taken = [item.delivery for batch in self._batches for item in batch.items]
        return taken + self.queue.deliveries()

    # -- in ---------------------------------------------------------------------------------

    def add(self, event: PreparedEvent, delivery: Delivery) -> int:
        """Queue ``event`` (and its stored copy); returns how many are queued now."""
        queue = self.queue
        queue.append(event, delivery, self._clock.monotonic())
        if self.persistence is not None:
            # A provisional stamp is stored as the time it was queued: an adopting page knows
            # it by that (PreparedEvent.stamped_with) and stamps it again.
            queued_epoch = event.provisional
            if queued_epoch is None:
                queued_epoch = self._clock.time()
            self.persistence.save(event, queued_epoch)  # written before any send
        size = len(queue)
        max_events, max_bytes = self._policy.memory_bounds
        if size > max_events or queue.size_bytes > max_bytes:
            self._evict_over_bounds()
        return size

    def revise(self, event: PreparedEvent, text: str, size: int) -> None:
        """Replace the JSON of queued ``event`` (a worker's first events, completed when the
        page answered; not stored or sent before)."""
        self.queue.size_bytes += size - event.size
        event.json, event.size = text, size

    def adopt(self, stored: list[StoredEvent]) -> None:
        """Queue events an earlier page left unsent, under their own ``event_id``; due now."""
        now, now_epoch = self._clock.monotonic(), self._clock.time()
        for entry in stored:
            delivery = Delivery(entry.event.event_id, self.report)
            age = max(0.0, now_epoch - entry.queued_epoch)
            if entry.event.stamped_with(entry.queued_epoch):
                # Stamped with the device's time by a page that never learned the service's:
                # stamped again from its age before it leaves.
                entry.event.provisional = entry.queued_epoch
            self.queue.append(entry.event, delivery, now - age)
        self.queue.request_flush()
        self._evict_over_bounds()

    # -- settling ---------------------------------------------------------------------------

    def settle(self, batch: Batch, outcomes: list[Outcome]) -> list[Batch]:
        """Settle each event of ``batch`` by its outcome; retryable ones go back to the queue
        (in order, after their backoff) until their attempts run out. Returns the batches still
        to send for these events: the halves of a batch too large for the service (413)."""
        if outcomes and outcomes[0].kind == "split":
            return [] if self.closed else self._split(batch)
        self._end(batch)
        if self.closed:
            return []  # close() already failed them
        self.healthy = all(outcome.kind != "retry" for outcome in outcomes)
        self.on_settled()
        max_attempts = self._policy.max_attempts
        retry: list[QueuedEvent] = []
        retry_after: float | None = None
        reason: MasivoError | None = None
        for item, outcome in zip(batch.items, outcomes):  # noqa: B905 - one outcome per item
            if item.delivery.done():
                continue  # let go of meanwhile (another tab's now): nothing more to do here
            final = outcome.kind != "retry" or item.attempts + 1 >= max_attempts
            if final:
                self._forget(item)  # final, one way or the other: the stored copy goes
            if outcome.kind == "delivered":
                item.delivery.resolve(SendEventResult(True, outcome.status, outcome.data))
            elif final:
                assert outcome.error is not None
                item.delivery.fail(final_error(outcome, max_attempts))
            else:
                self._restore(item)
                retry.append(item)
                reason = outcome.error
                if outcome.retry_after_s is not None:
                    retry_after = max(retry_after or 0.0, outcome.retry_after_s)
        if retry:
            attempt = max(item.attempts for item in retry) + 1
            delay = backoff_delay(
                attempt, retry_after_s=retry_after, random=self._random, policy=self._policy
            )
            ready_at = self._clock.monotonic() + delay
            log_retry(len(retry), reason, delay, attempt, max_attempts)
            if retry_after is not None:
                # The server said when to come back (429, 503): nothing else goes before then.
                self.queue.hold_until(ready_at)
            self.queue.put_back(retry, ready_at)
        return []

    def abandon(self, batch: Batch) -> None:
        """``batch``'s task ended without an answer (its event loop ended): its events go
        back to the front of the queue, unsettled, for a later flush (if the request did arrive,
        that is a copy, which Masivo, documenting no de-duplication, may count twice)."""
        self._end(batch, wake=False)  # its loop is ending: no flusher to wake there
        if not self.closed:
            items = [item for item in batch.items if not item.delivery.done()]
            for item in items:
                self._restore(item)
            self.queue.put_back(items, 0.0, count_attempt=False)
            self.on_settled()

    def _end(self, batch: Batch, *, wake: bool = True) -> None:
        if batch.sent is not None:
            batch.sent.release()
        if batch in self._batches:
            self._batches.remove(batch)
        if wake:
            self.on_change()

    def drop_expired(self, now: float) -> None:
        """Drop the events that waited longer than the policy keeps them."""
        expired = self.queue.take_expired(now, self._policy.max_event_age_s)
        if expired:
            age = self._policy.max_event_age_s
            longest = f"{age / 3600:g} hours" if age >= 3600 else f"{age:g} seconds"
            self._drop(expired, f"it waited over {longest} (DeliveryPolicy.max_event_age_s).")

    def _evict_over_bounds(self) -> None:
        max_events, max_bytes = self._policy.memory_bounds
        evicted = self.queue.evict_over_bounds(max_events, max_bytes)
        if evicted:
            self._drop(
                evicted,
                f"The queue was over its bound ({max_events} events or {max_bytes} bytes) "
                "and this was its oldest event.",
            )

    def _drop(self, items: list[QueuedEvent], reason: str) -> None:
        # An on_error hook hears of every drop; otherwise the log gets a periodic summary.
        per_event = self.report is not log_failure
        for item in items:
            self._forget(item)
            item.delivery.fail(
                MasivoDroppedError(f"Dropped before delivery: {reason}"), log=per_event
            )
        if not per_event:
            self._drop_summary.add(len(items), reason, self._clock.monotonic())

    def _forget(self, item: QueuedEvent) -> None:
        if self.persistence is not None:
            self.persistence.forget(item.event.event_id)

    def discard(self, reason: str) -> int:
        """Drop every queued event (opt-out): each resolves unsent with ``reason``."""
        items = self.queue.clear()
        for item in items:
            self._forget(item)
            item.delivery.resolve(SendEventResult(False, 0, {"reason": reason}))
        return len(items)

    def fail_unsettled(self, *, keep_stored: bool = False) -> int:
        """Fail every unsettled event (the client is destroyed) and forget their stored
        copies, unless ``keep_stored`` (``close()`` ran out of time: the site's next page sends
        them); returns how many. Never raises."""
        if self.closed:
            return 0
        self.closed = True
        dropped = [item for batch in self._batches for item in batch.items] + self.queue.clear()
        for batch in self._batches:
            if batch.sent is not None:
                batch.sent.release()
        self._batches.clear()
        if keep_stored:
            kept = " (it stays stored: the site's next page sends it)" if self.persistence else ""
            error = MasivoError(f"close() ran out of time before this event was sent{kept}.")
        else:
            error = MasivoError(
                "The client was destroyed before this event was sent; await flush() before "
                "destroy()."
            )
        for item in dropped:
            if keep_stored:
                self._restore(item)
            else:
                self._forget(item)
            item.delivery.fail(error, log=False)
        if self.persistence is not None:
            try:
                self.persistence.close()
            except Exception:  # storage trouble must not stop destroy()
                logger.exception("masivo_web: closing the event store failed")
        return len(dropped)
