"""The dispatcher: the queue, the one flusher task that sends it, and the page-hide flush.

No threads, no ``call_later``, no ``asyncio.run``: the flusher is a task on the running loop that
sleeps until its next deadline (CPython's loop, Pyodide's WebLoop, and MicroPython alike). Both
ways out (the flusher's batches and the page-hide flush) go through :meth:`Dispatcher._deliver`,
so a 401, a retry or a per-item rejection is handled the same wherever the request started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from . import api
from .auth import AuthManager
from .config import Settings
from .delivery import Delivery, DropSummary, SendEventResult, log_failure
from .durable import Persistence, StoredEvent
from .errors import MasivoAuthError, MasivoDroppedError, MasivoError
from .events import PreparedEvent
from .keepalive import page_budget
from .queue import (
    MAX_EVENT_AGE_S,
    MEMORY_QUEUE_BOUNDS,
    EventQueue,
    QueuedEvent,
)
from .retry import MAX_ATTEMPTS, backoff_delay
from .runtime import Clock, next_turn, running_loop
from .sender import Claim, Sender
from .transports import Transport

logger = logging.getLogger("masivo_web")

#: Called with each failure nobody awaited: (error, event_id).
Reporter = Callable[[MasivoError, str], None]
#: Wait this long after ``online`` before sending.
RESUME_DELAY_S = 1.0
#: Batch requests on the wire at once. One at a time cannot keep up with a burst (a request's
#: round trip idles the page), and the stored queue's bound would drop the oldest events; a
#: browser opens 6 connections per host, and the page-hide flush may need some.
MAX_IN_FLIGHT = 4


class Dispatcher:
    """Queues validated events and delivers them; one per client."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport,
        clock: Clock,
        random: Callable[[], float],
        auth: AuthManager,
        persistence: Persistence | None = None,
        on_error: Reporter | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._clock = clock
        self._random = random
        self._auth = auth
        self._sender = Sender(settings, transport=transport, auth=auth, clock=clock)
        self._queue = EventQueue(
            batch_size=settings.batch_size,
            idle_flush_s=settings.idle_flush_s,
            max_wait_s=settings.max_wait_s,
        )
        self._flusher: asyncio.Task[None] | None = None
        # The flusher's batch requests still on the wire (at most MAX_IN_FLIGHT).
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        # Events whose request is on the wire (the flusher's batch and page-hide batches).
        self._sending: set[QueuedEvent] = set()
        self._warming: asyncio.Task[None] | None = None
        self._persistence = persistence
        # A page's stored copies have their own, smaller bound (see EventStore): a burst the
        # server cannot take at once waits in memory rather than being dropped.
        self._bounds = MEMORY_QUEUE_BOUNDS
        self._maintenance: asyncio.Task[None] | None = None
        self._report = on_error or log_failure
        self._drop_summary = DropSummary()
        self._online = True
        self._page_hidden = False  # a hidden page sends each event at once
        self._wake_posted = False  # a wake-up is posted for the next turn
        self._closed = False

    def __len__(self) -> int:
        """Events queued, not yet on the wire."""
        return len(self._queue)

    def enqueue(self, event: PreparedEvent, loop: asyncio.AbstractEventLoop) -> Delivery:
        """Queue ``event`` and return its delivery handle."""
        # The tracking call's share: kept to what must happen now (this runs once per event).
        delivery = Delivery(loop, event.event_id, self._report, self._expedite)
        queue = self._queue
        queue.append(event, delivery, self._clock.monotonic())
        if self._persistence is not None:
            self._persistence.save(event, self._clock.time())  # written before any send
        size = len(queue)
        max_events, max_bytes = self._bounds
        if size > max_events or queue.size_bytes > max_bytes:
            self._evict_over_bounds()
        self.ensure_flusher(loop)
        if self._page_hidden:
            # A hidden page may be frozen or discarded with no further event (peers.md §3):
            # what it queues goes out at once rather than at the idle timer.
            queue.request_flush()
            self._wake_soon()
        # The flusher only needs waking when the deadline moves earlier: the queue was empty
        # (it sleeps with no deadline) or the count trigger fired. Later deadlines it finds itself.
        elif size == 1 or size >= self._settings.batch_size:
            self._wake_soon()
            if self._warming is None and self._auth.cached_token is None:
                # Authorize now rather than at the first batch: a page-hide flush can only use
                # a token that is already cached (peers.md 5.13: bounces lose early events).
                self._warming = loop.create_task(self._warm_token())
        return delivery

    def _wake_soon(self) -> None:
        """Wake the flusher on the next turn: ``Event.set()`` schedules through the loop, which
        in a page costs more than the rest of a tracking call (see ``runtime.next_turn``)."""
        if not self._wake_posted:
            self._wake_posted = True
            next_turn(self._wake_now)

    def _wake_now(self) -> None:
        self._wake_posted = False
        if self._wake is not None:
            self._wake.set()

    def start_recovery(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin adopting the unsent events of closed tabs (a page only; no-op otherwise)."""
        if self._persistence is not None and self._maintenance is None:
            self._maintenance = loop.create_task(self._persistence.maintain(self._adopt))

    def _adopt(self, stored: list[StoredEvent]) -> None:
        """Queue events another page left unsent; they go out at once, with their event_id."""
        loop = running_loop()
        now, now_epoch = self._clock.monotonic(), self._clock.time()
        for entry in stored:
            delivery = Delivery(loop, entry.event.event_id, self._report)
            age = max(0.0, now_epoch - entry.queued_epoch)
            self._queue.append(entry.event, delivery, now - age)
        logger.info("masivo_web: sending %d event(s) left unsent by an earlier page", len(stored))
        self._queue.request_flush()
        self._evict_over_bounds()
        self.ensure_flusher(loop).set()

    def set_online(self, online: bool) -> None:
        """Follow ``navigator.onLine``: no sends while offline; resume shortly after coming back
        (at once fails with ERR_NETWORK_CHANGED, as Amplitude found: peers.md §2.3)."""
        self._online = online
        if online and self._wake is not None and len(self._queue):
            self._queue.request_flush()
            self._queue.hold_until(self._clock.monotonic() + RESUME_DELAY_S)
            self._wake.set()

    def _evict_over_bounds(self) -> None:
        max_events, max_bytes = self._bounds
        evicted = self._queue.evict_over_bounds(max_events, max_bytes)
        if evicted:
            self._drop(
                evicted,
                f"The queue was over its bound ({max_events} events or {max_bytes} bytes) "
                "and this was its oldest event.",
            )

    def _drop(self, items: list[QueuedEvent], reason: str) -> None:
        # An on_error hook hears of every drop; otherwise the log gets a periodic summary.
        per_event = self._report is not log_failure
        for item in items:
            self._forget(item)
            item.delivery.fail(
                MasivoDroppedError(f"Dropped before delivery: {reason}"), log=per_event
            )
        if not per_event:
            self._drop_summary.add(len(items), reason, self._clock.monotonic())

    def _forget(self, item: QueuedEvent) -> None:
        if self._persistence is not None:
            self._persistence.forget(item.event.event_id)

    async def _warm_token(self) -> None:
        try:
            await self._auth.get_token()
        except MasivoError:
            pass  # the flusher meets the same error and reports it with the events
        finally:
            self._warming = None

    def _expedite(self) -> None:
        """Someone awaits an event: send what is queued now instead of at the next timer."""
        self._queue.request_flush()
        if self._wake is not None:
            self._wake.set()

    def not_sent(self, event_id: str, reason: str) -> Delivery:
        """A delivery settled at once for an event the app chose not to send (``before_send``
        dropped it, the client is disabled or opted out): a result, not an error."""
        delivery = Delivery(running_loop(), event_id, self._report)
        delivery.resolve(SendEventResult(False, 0, {"reason": reason}))
        return delivery

    def discard(self, reason: str) -> int:
        """Drop every queued event (opt-out): each resolves unsent with ``reason``."""
        items = self._queue.clear()
        for item in items:
            self._forget(item)
            item.delivery.resolve(SendEventResult(False, 0, {"reason": reason}))
        return len(items)

    async def flush(self) -> None:
        """Send everything queued now; return once each event was answered or finally failed."""
        pending = [item.delivery for item in self._sending] + self._queue.deliveries()
        if self._closed or not pending:
            return
        self._queue.request_flush()
        self.ensure_flusher(asyncio.get_running_loop()).set()
        await asyncio.wait([delivery.settled() for delivery in pending])

    def close(self) -> int:
        """Stop the flusher and fail every unsent event; returns how many were dropped."""
        if self._closed:
            return 0
        self._closed = True
        for task in (self._flusher, self._warming, self._maintenance, *self._in_flight):
            if task is not None and not task.done():
                task.cancel()
        self._sender.forget_waiting()
        dropped = [*self._sending, *self._queue.clear()]
        self._sending.clear()
        error = MasivoError(
            "The client was destroyed before this event was sent; await flush() before destroy()."
        )
        for item in dropped:
            self._forget(item)
            item.delivery.fail(error, log=False)
        if self._persistence is not None:
            self._persistence.close()
        return len(dropped)

    def ensure_flusher(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._wake_posted = False  # one posted for an earlier loop may never run
            self._flusher = loop.create_task(self._run_flusher(self._wake))
        assert self._wake is not None
        return self._wake

    async def _run_flusher(self, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            now = self._clock.monotonic()
            expired = self._queue.take_expired(now)
            if expired:
                self._drop(expired, f"it waited over {MAX_EVENT_AGE_S / 3600:g} hours.")
            if not self._online:
                await self._sleep(wake, None)  # set_online(True) wakes it
                continue
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                await self._sleep(wake, None)  # a request that ends wakes it
                continue
            batch = self._queue.take_batch(now)
            if batch:
                if self._persistence is not None:
                    self._persistence.write()  # write-ahead: stored before it is sent
                self._sending.update(batch)
                # Claimed now, in the turn that took them: a page hide before the task runs
                # starts their requests itself.
                claims = [self._sender.claim(group) for group in self._request_groups(batch)]
                request = asyncio.get_running_loop().create_task(self._deliver_batch(claims))
                self._in_flight.add(request)
                request.add_done_callback(self._request_ended)
                continue
            due = self._queue.next_due(now)
            await self._sleep(wake, None if due is None else due - now)

    async def _deliver_batch(self, claims: list[Claim]) -> None:
        for claim in claims:  # the single-event route: one by one
            await self._deliver(claim)

    def _request_ended(self, request: asyncio.Task[None]) -> None:
        self._in_flight.discard(request)
        if self._wake is not None:
            self._wake.set()  # room for the next batch, or retries to schedule

    async def _sleep(self, wake: asyncio.Event, seconds: float | None) -> None:
        """Wait until ``wake`` is set or ``seconds`` passed (forever when None)."""
        if seconds is None:
            await wake.wait()
            return
        timer = asyncio.get_running_loop().create_task(self._ring_after(wake, seconds))
        try:
            await wake.wait()
        finally:
            timer.cancel()

    async def _ring_after(self, wake: asyncio.Event, seconds: float) -> None:
        await self._clock.sleep(seconds)
        wake.set()

    # -- sending ---------------------------------------------------------------------------

    def flush_for_page_hide(self) -> None:
        """The page is being hidden or left: put queued events on the wire *now*.

        Runs synchronously inside the ``pagehide``/``visibilitychange`` listener, because the
        page may be gone before any ``await`` resumes. Requests are started with the cached
        token and ``keepalive``, within the page's keepalive budget. With no cached token (an
        authorize round trip cannot finish in an unloading page) or no budget left, the events
        go to the normal flush, which completes if the page stays alive (a hidden tab).
        """
        self._page_hidden = True
        if self._persistence is not None and not self._closed:
            self._persistence.write()  # stored first: the requests may never be answered
        if self._closed or not self._online:
            return  # offline: nothing could get out; the events stay queued (and stored)
        token = self._auth.cached_token
        if token is not None and self._sender.can_start:
            # First the batches already taken whose task has not put them on the wire yet
            # (each loop turn is its own browser task: the page can go in between).
            self._sender.start_waiting(token)
            loop = running_loop()
            while batch := self._queue.take_for_unload(page_budget.available()):
                self._sending.update(batch)
                for group in self._request_groups(batch):
                    loop.create_task(self._deliver(self._sender.start_now(group, token)))
        if len(self._queue):
            self._queue.request_flush()
            self.ensure_flusher(running_loop()).set()

    def page_shown(self) -> None:
        """The page is visible again: events wait for the usual triggers again."""
        self._page_hidden = False

    def _request_groups(self, batch: list[QueuedEvent]) -> list[list[QueuedEvent]]:
        """One group per request: the whole batch, or one event each on the single route."""
        return [[item] for item in batch] if self._settings.event_route == "behavior" else [batch]

    async def _deliver(self, claim: Claim) -> None:
        """Send the events of ``claim`` (or await its started request) and settle each one."""
        items = claim.items
        try:
            outcomes = await self._sender.send(claim)
        except MasivoAuthError as exc:  # no retry can fix it: report, never loop
            outcomes = [api.Outcome("rejected", exc.status or 401, error=exc)] * len(items)
        except MasivoError as exc:  # network failure, or an authorize 5xx: retry later
            outcomes = [api.Outcome("retry", exc.status or 0, error=exc)] * len(items)
        except Exception as exc:  # a bug must fail its events, never kill the flusher
            logger.exception("masivo_web: unexpected error while sending events")
            error = MasivoError(f"Unexpected SDK error: {exc!r}")
            outcomes = [api.Outcome("rejected", 0, error=error)] * len(items)
        finally:
            self._sending.difference_update(items)
        self._settle(items, outcomes)

    def _settle(self, items: list[QueuedEvent], outcomes: list[api.Outcome]) -> None:
        retry: list[QueuedEvent] = []
        retry_after: float | None = None
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.kind != "retry" or item.attempts + 1 >= MAX_ATTEMPTS:
                self._forget(item)  # final, one way or the other: the stored copy goes
            if outcome.kind == "delivered":
                item.delivery.resolve(SendEventResult(True, outcome.status, outcome.data))
            elif outcome.kind == "rejected":
                assert outcome.error is not None
                item.delivery.fail(outcome.error)
            elif item.attempts + 1 >= MAX_ATTEMPTS:
                assert outcome.error is not None
                error = outcome.error
                item.delivery.fail(
                    type(error)(
                        f"{error.message} Gave up after {MAX_ATTEMPTS} attempts.",
                        status=error.status,
                        details=error.details,
                    )
                )
            else:
                retry.append(item)
                if outcome.retry_after_s is not None:
                    retry_after = max(retry_after or 0.0, outcome.retry_after_s)
        if retry:
            attempt = max(item.attempts for item in retry) + 1
            delay = backoff_delay(attempt, retry_after_s=retry_after, random=self._random)
            ready_at = self._clock.monotonic() + delay
            if retry_after is not None:
                # The server said when to come back (429, 503): nothing else goes before then,
                # whichever request of those in flight heard it.
                self._queue.hold_until(ready_at)
            self._queue.put_back(retry, ready_at)
