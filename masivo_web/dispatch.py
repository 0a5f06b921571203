"""The dispatcher: the queue, the one flusher task that sends it, and the page-hide flush.

No threads, no ``call_later``, no ``asyncio.run``: the flusher is a task on the running loop that
sleeps until its next deadline (CPython's loop, Pyodide's WebLoop, and MicroPython alike). Both
ways out (the flusher's batches and the page-hide flush) go through :meth:`Dispatcher._deliver`,
so a 401, a retry or a per-item rejection is handled the same wherever the request started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from . import api
from .auth import AuthManager
from .config import Settings
from .delivery import Delivery, SendEventResult
from .errors import MasivoAuthError, MasivoError
from .events import PreparedEvent
from .keepalive import page_budget
from .queue import EventQueue, QueuedEvent
from .retry import MAX_ATTEMPTS, backoff_delay
from .runtime import IS_BROWSER, Clock, running_loop
from .transports import Request, Response, StartingTransport, Transport

logger = logging.getLogger("masivo_web")

#: A request the page-hide flush already started: (token used, its answer, keepalive bytes).
Started = tuple[str, Awaitable[Response], int]


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
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._clock = clock
        self._random = random
        self._auth = auth
        self._queue = EventQueue(
            batch_size=settings.batch_size,
            idle_flush_s=settings.idle_flush_s,
            max_wait_s=settings.max_wait_s,
        )
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        # Events whose request is on the wire (the flusher's batch and page-hide batches).
        self._sending: set[QueuedEvent] = set()
        self._warming: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        """Events queued, not yet on the wire."""
        return len(self._queue)

    def enqueue(self, event: PreparedEvent, loop: asyncio.AbstractEventLoop) -> Delivery:
        """Queue ``event`` and return its delivery handle."""
        delivery = Delivery(loop.create_future(), event.event_id)
        self._queue.append(event, delivery, self._clock.monotonic())
        wake = self.ensure_flusher(loop)
        # The flusher only needs waking when the deadline moves earlier: the queue was empty
        # (it sleeps with no deadline) or the count trigger fired. Later deadlines it finds itself.
        if len(self._queue) == 1 or len(self._queue) >= self._settings.batch_size:
            wake.set()
        if self._auth.cached_token is None and self._warming is None:
            # Authorize now rather than at the first batch: a page-hide flush can only use a
            # token that is already cached (peers.md 5.13: bounces lose early events).
            self._warming = loop.create_task(self._warm_token())
        return delivery

    async def _warm_token(self) -> None:
        try:
            await self._auth.get_token()
        except MasivoError:
            pass  # the flusher meets the same error and reports it with the events
        finally:
            self._warming = None

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
        for task in (self._flusher, self._warming):
            if task is not None and not task.done():
                task.cancel()
        dropped = [*self._sending, *self._queue.clear()]
        self._sending.clear()
        error = MasivoError(
            "The client was destroyed before this event was sent; await flush() before destroy()."
        )
        for item in dropped:
            item.delivery.fail(error, log=False)
        return len(dropped)

    def ensure_flusher(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        if self._flusher is None or self._flusher.done() or self._flusher.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._flusher = loop.create_task(self._run_flusher(self._wake))
        assert self._wake is not None
        return self._wake

    async def _run_flusher(self, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            now = self._clock.monotonic()
            batch = self._queue.take_batch(now)
            if batch:
                self._sending.update(batch)
                for group in self._request_groups(batch):
                    await self._deliver(group)
                continue
            due = self._queue.next_due(now)
            await self._sleep(wake, None if due is None else due - now)

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
        if self._closed or not len(self._queue):
            return
        loop = running_loop()
        self._queue.request_flush()
        token = self._auth.cached_token
        if token is not None and isinstance(self._transport, StartingTransport):
            while batch := self._queue.take_for_unload(page_budget.available()):
                self._sending.update(batch)
                for group in self._request_groups(batch):
                    request, reserved = self._request(group, token, keepalive=True)
                    answer = self._transport.start(request)
                    loop.create_task(self._deliver(group, started=(token, answer, reserved)))
        if len(self._queue):
            self.ensure_flusher(loop).set()

    def _request_groups(self, batch: list[QueuedEvent]) -> list[list[QueuedEvent]]:
        """One group per request: the whole batch, or one event each on the single route."""
        return [[item] for item in batch] if self._settings.event_route == "behavior" else [batch]

    async def _deliver(
        self,
        items: list[QueuedEvent],
        started: Started | None = None,
    ) -> None:
        """Send ``items`` (or await the request ``started`` for them) and settle each event."""
        try:
            outcomes = await self._send_with_auth(items, started)
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

    async def _send_with_auth(
        self,
        items: list[QueuedEvent],
        started: Started | None = None,
    ) -> list[api.Outcome]:
        if started is None:
            token = await self._auth.get_token()
            response = await self._send(items, token)
        else:
            token, answer, reserved = started
            try:
                response = await answer
            finally:
                page_budget.release(reserved)
        if response.status == 401:
            # The token expired or was revoked: drop it, authorize once, try once more.
            self._auth.invalidate(token)
            token = await self._auth.get_token()
            response = await self._send(items, token)
            if response.status == 401:
                raise MasivoAuthError(
                    "Masivo rejected a freshly issued token. Check the key is a valid CLIENT key "
                    "and that the clock of this device is right.",
                    status=401,
                    details=api.api_error(response).details,
                )
        if response.status == 413 and len(items) > 1:
            half = len(items) // 2
            # Too large for the server: send each half (a single event that is too large is
            # reported by read_events_response as rejected).
            first = await self._send_with_auth(items[:half])
            return first + await self._send_with_auth(items[half:])
        return api.read_events_response(
            response,
            len(items),
            single=self._settings.event_route == "behavior",
            now_epoch=self._clock.time(),
        )

    async def _send(self, items: list[QueuedEvent], token: str) -> Response:
        # In a page every send asks for keepalive, so a batch already on the wire survives the
        # user navigating away; the page's budget decides whether it gets it.
        request, reserved = self._request(items, token, keepalive=IS_BROWSER)
        try:
            return await self._transport.send(request)
        finally:
            page_budget.release(reserved)

    def _request(
        self, items: list[QueuedEvent], token: str, *, keepalive: bool
    ) -> tuple[Request, int]:
        """The request for ``items`` and the keepalive bytes it reserved (release them when
        it is answered). Keepalive is granted only while the page's budget allows it."""
        settings = self._settings
        if settings.event_route == "behavior":
            body = items[0].event.json
            request = api.single_request(
                settings.api_base, token, body, settings.timeout_s, keepalive=False
            )
        else:
            events = [item.event.json for item in items]
            request = api.batch_request(
                settings.api_base, token, events, settings.timeout_s, keepalive=False
            )
        size = len(request.body or b"")
        if keepalive and page_budget.reserve(size):
            return replace(request, keepalive=True), size
        return request, 0

    def _settle(self, items: list[QueuedEvent], outcomes: list[api.Outcome]) -> None:
        retry: list[QueuedEvent] = []
        retry_after: float | None = None
        for item, outcome in zip(items, outcomes, strict=True):
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
            self._queue.put_back(retry, self._clock.monotonic() + delay)
