"""The outbox's outgoing half: how taken events become requests on the wire, and what happens
to them when the page goes away (started at once with keepalive, their stored copies handed off,
or planned for a worker's page to start). Mixed into :class:`~masivo_web.engine.outbox.Outbox`,
which owns the state it works on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..errors import MasivoError
from ..rules.config import Settings
from ..rules.http import Request, Response
from ..rules.keepalive import KEEPALIVE_BUDGET_BYTES
from ..rules.policy import DeliveryPolicy
from ..rules.queue import EventQueue, QueuedEvent
from ..rules.results import SendEventResult
from ..rules.service_clock import ServiceClock
from ..runtime.clock import Clock
from .persistence import Persistence
from .wire import Batch, InFlight, Wire


class Outgoing:
    """Taking, starting and handing off; the state is the outbox's (declared here for the
    type checker)."""

    queue: EventQueue
    persistence: Persistence | None
    closed: bool
    healthy: bool
    _batches: list[Batch]
    _wire: Wire
    _settings: Settings
    _policy: DeliveryPolicy
    _clock: Clock
    _service_clock: ServiceClock | None

    # -- out --------------------------------------------------------------------------------

    def take(self, now: float, *, keepalive_only: bool = False) -> list[Batch]:
        """The batches due now (one per request: the whole batch, or one per event on the
        single-event route), written to storage first; empty when nothing is due, or, if
        ``keepalive_only``, when what is due does not fit the page's keepalive room yet."""
        room = self._wire.keepalive_room if keepalive_only else None
        if room is not None and any(batch.sent is None for batch in self._batches):
            return []  # the room is known once the batch taken before has started
        items = self.queue.take_batch(now, room)
        if not items:
            return []
        if self.persistence is not None:
            self.persistence.write()  # write-ahead: stored before it is sent
        return self._register(items)

    def _register(self, items: list[QueuedEvent]) -> list[Batch]:
        single = self._settings.event_route == "behavior"
        batches = [Batch([item]) for item in items] if single else [Batch(items)]
        self._batches.extend(batches)
        return batches

    def start(self, batch: Batch, token: str, *, keepalive: bool = True) -> None:
        """Put ``batch``'s request on the wire with ``token`` (with keepalive while the page's
        budget has room for its body: the wire decides; never when ``keepalive`` is False)."""
        self._start(batch, self._request(batch, token), token, keepalive=keepalive)

    def _start(self, batch: Batch, request: Request, token: str, *, keepalive: bool = True) -> None:
        if self.closed:  # destroyed while its task waited for a token: nothing goes out
            raise MasivoError("The client was destroyed before this batch was sent.")
        batch.sent = self._wire.start(request, token, keepalive=keepalive)

    def _request(self, batch: Batch, token: str) -> Request:
        return self._wire.request(self._bodies(batch.items), token)

    def _bodies(self, items: list[QueuedEvent]) -> list[str]:
        """The events' JSON as they leave: a provisional ``issued_at`` becomes the service's
        time minus the event's age on the monotonic clock, once the service's time is known."""
        service = self._service_clock
        service_now = None if service is None else service.now()
        if service_now is not None:
            now = self._clock.monotonic()
            for item in items:
                if item.event.provisional is not None:
                    item.event.restamp(service_now - max(0.0, now - item.enqueued_at))
        return [item.event.json for item in items]

    async def answer(self, batch: Batch) -> tuple[Response, str]:
        """The answer to ``batch``'s request and the token it carried; its keepalive bytes are
        released whatever came, and the batch is *taken* again (a 401 starts it again)."""
        sent = batch.sent
        assert sent is not None
        try:
            return await sent.response(), sent.token
        finally:
            batch.sent = None

    def _split(self, batch: Batch) -> list[Batch]:
        """A 413: the batch becomes its two halves, each to be sent and settled on its own."""
        half = len(batch.items) // 2
        halves = [Batch(batch.items[:half]), Batch(batch.items[half:])]
        index = self._batches.index(batch)
        self._batches[index : index + 1] = halves
        return halves

    def start_for_page_hide(self, token: str) -> list[Batch]:
        """The page is going away: start with keepalive every taken batch whose request has
        not started, then take queued events while the budget lasts and start those. Returns
        the new batches (someone must await their answers); the rest stay queued and stored."""
        wire = self._wire
        if not wire.starts_now or wire.keepalive_room is None:
            return []
        for batch in self._batches:
            if batch.sent is None:
                request = self._request(batch, token)
                if not wire.fits_keepalive(request):
                    return []  # a request without keepalive dies with the page
                self._start(batch, request, token)
        started: list[Batch] = []
        while items := self.queue.take_for_unload(wire.keepalive_room or 0):
            for batch in self._register(items):
                self.start(batch, token)
                started.append(batch)
        return started

    def hand_off(self) -> int:
        """The page is going away: forget, now, the stored copies of the events whose
        keepalive requests are on the wire, so the site's next page does not send them again
        (Masivo would count them twice), but only while the service answers normally and
        unless the policy says it de-duplicates. Handed off while it fails, they stay stored.
        A handed-off event whose request fails while the page still lives (a hidden tab) is
        stored again. Returns how many were handed off."""
        persistence = self.persistence
        if persistence is None or not self.may_hand_off:
            return 0
        handed = 0
        for batch in self._batches:
            if batch.sent is not None and batch.sent.keepalive:  # on the wire, with keepalive
                handed += self._handed_off(batch.items, persistence)
        if handed:
            persistence.write()
        return handed

    @property
    def may_hand_off(self) -> bool:
        """Whether events handed to a keepalive request now may leave storage: the service
        answers normally and the policy does not say it de-duplicates."""
        return self.healthy and not self._policy.service_deduplicates

    def _handed_off(self, items: list[QueuedEvent], persistence: Persistence) -> int:
        handed = 0
        for item in items:
            if item.handed_off is None:
                item.handed_off = self._queued_epoch(item)
                persistence.forget(item.event.event_id)
                handed += 1
        return handed

    def _queued_epoch(self, item: QueuedEvent) -> float:
        if item.event.provisional is not None:
            return item.event.provisional
        return self._clock.time() - max(0.0, self._clock.monotonic() - item.enqueued_at)

    def _restore(self, item: QueuedEvent) -> None:
        """A handed-off event will be sent again from here: it is stored again."""
        if item.handed_off is not None and self.persistence is not None:
            self.persistence.save(item.event, item.handed_off)
        item.handed_off = None

    def let_go(self, event_ids: list[str]) -> int:
        """Another tab took these events while the page was in the back-forward cache: they
        are that tab's to send. Queued, they leave the queue; on the wire (a request the page
        started as it left, whose answer may never come), the answer is ignored for them. Each
        resolves unsent, saying so. Returns how many."""
        wanted = set(event_ids)
        queued = [item.event.event_id for item in self.queue.items if item.event.event_id in wanted]
        items = self.queue.take_exactly(queued) or []
        items += [
            item for batch in self._batches for item in batch.items if item.event.event_id in wanted
        ]
        reason = "another tab of the site took it while this page was in the back-forward cache"
        for item in items:
            item.handed_off = None  # not ours to store again
            item.delivery.resolve(SendEventResult(False, 0, {"reason": reason}))
        return len(items)

    def hide_plan(self, token: str) -> list[tuple[Request, list[str]]]:
        """The requests :meth:`start_for_page_hide` would start for the queued events if the
        page went away now, each with its events' ids, within a whole keepalive budget; nothing
        is taken (a worker's page starts them, and :meth:`take_started` then takes them)."""
        if self._wire.keepalive_room is None:
            return []
        batches = self.queue.unload_batches(KEEPALIVE_BUDGET_BYTES)
        if self._settings.event_route == "behavior":  # one request per event
            batches = [[item] for items in batches for item in items]
        return [
            (
                self._wire.request(self._bodies(items), token),
                [item.event.event_id for item in items],
            )
            for items in batches
        ]

    def hand_off_writes(self, event_ids: list[str]) -> dict[str, str | None] | None:
        """The storage writes a worker's page applies when it starts the requests of
        ``event_ids`` at page hide (their copies leave storage: see :meth:`hand_off`); None
        when they must stay stored."""
        if self.persistence is None or not self.may_hand_off:
            return None
        return self.persistence.without(event_ids)

    def take_started(
        self,
        event_ids: list[str],
        token: str,
        answer: Callable[[], Awaitable[Response]],
        *,
        handed_off: bool = False,
    ) -> Batch | None:
        """Take the queued events ``event_ids`` as a batch whose request someone else started
        (a worker's page, at page hide) with ``token``, answered by ``answer()``, and whose
        stored copies it removed if ``handed_off``; None when they are not all queued any more
        (taken here meanwhile: they go again from here)."""
        if self.closed:
            return None
        items = self.queue.take_exactly(event_ids)
        if items is None:
            return None
        if handed_off and self.persistence is not None:
            self._handed_off(items, self.persistence)  # as the page already did
        batch = Batch(items)
        batch.sent = InFlight(answer(), token)
        self._batches.append(batch)
        return batch
