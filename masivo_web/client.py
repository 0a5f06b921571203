"""``create_client`` and ``MasivoClient``: wires validation, queue, auth and transport together
and owns the one flusher task that sends batches.

No threads, no ``call_later``, no ``asyncio.run``: the flusher is a task on the running loop that
sleeps until its next deadline (CPython's loop, Pyodide's WebLoop, and MicroPython alike).
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from . import api, auth
from .config import EventRoute, Settings, check_settings
from .delivery import Delivery, SendEventResult
from .errors import MasivoAuthError, MasivoConfigError, MasivoError
from .events import prepare_event
from .queue import EventQueue, QueuedEvent
from .retry import MAX_ATTEMPTS, backoff_delay
from .runtime import Clock, SystemClock, running_loop
from .transports import Request, Transport, default_transport

logger = logging.getLogger("masivo_web")


def create_client(
    api_key: str,
    *,
    brand_id: str | None = None,
    auth_url: str = api.DEFAULT_AUTH_URL,
    api_base: str = api.DEFAULT_API_BASE,
    batch_size: int = 100,
    idle_flush_s: float = 30.0,
    max_wait_s: float = 60.0,
    timeout_s: float = 10.0,
    transport: Transport | None = None,
    event_route: EventRoute = "analytics",
    clock: Clock | None = None,
    random: Callable[[], float] | None = None,
) -> MasivoClient:
    """Create a Masivo client for a CLIENT API key. Needs no event loop: nothing is sent and no
    timer starts until the first event.

    ``brand_id`` is injected into events that have a ``platform`` but no ``brand_id``. Events are
    sent in batches of ``batch_size`` (at most 100), after ``idle_flush_s`` without a new event,
    ``max_wait_s`` after the oldest queued event, or on ``await flush()``.
    ``event_route="behavior"`` sends each event alone to the single-event route.
    ``transport``, ``clock`` and ``random`` are for tests.

    >>> masivo = create_client("your-client-api-key", brand_id="brand-456")

    Raises :class:`MasivoConfigError` at once for a bad argument.
    """
    settings = check_settings(
        api_key=api_key,
        brand_id=brand_id,
        auth_url=auth_url,
        api_base=api_base,
        batch_size=batch_size,
        idle_flush_s=idle_flush_s,
        max_wait_s=max_wait_s,
        timeout_s=timeout_s,
        event_route=event_route,
    )
    if transport is not None and not callable(getattr(transport, "send", None)):
        raise MasivoConfigError("transport must have an async send(request) method.")
    return MasivoClient(
        settings,
        transport=transport or default_transport(),
        clock=clock or SystemClock(),
        random=random or _random.random,
    )


class MasivoClient:
    """Sends analytics events to Masivo in batches. Create it with :func:`create_client`.

    >>> async def main():
    ...     async with create_client("your-client-api-key") as masivo:
    ...         masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    """

    def __init__(
        self, settings: Settings, *, transport: Transport, clock: Clock, random: Callable[[], float]
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._random = random
        self._queue = EventQueue(
            batch_size=settings.batch_size,
            idle_flush_s=settings.idle_flush_s,
            max_wait_s=settings.max_wait_s,
        )
        self._auth = auth.acquire(settings.api_key, settings.auth_url, self._authorize, clock)
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._in_flight: list[QueuedEvent] = []
        self._destroyed = False

    # -- public API ------------------------------------------------------------------------

    def send_analytics_event(
        self, event: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Delivery:
        """Validate and queue one event; returns at once.

        Give the event as a dict, as keyword arguments, or both (keywords win). Required:
        ``type``, ``customer_id`` and ``brand_id`` (None if brands do not apply). The SDK adds
        ``event_id`` and ``issued_at``. Awaiting the returned :class:`Delivery` is optional and
        gives a :class:`SendEventResult` once Masivo answered for the event.

        >>> masivo.send_analytics_event(
        ...     type="ADD_TO_CART", customer_id="customer-123", brand_id="brand-456",
        ...     product={"sku": "SKU-001", "amount": 1, "value": 29.99})

        Raises :class:`MasivoValidationError` for bad input (nothing is queued) and
        :class:`MasivoConfigError` after ``destroy()`` or without a running event loop.
        """
        self._check_alive()
        loop = running_loop()
        prepared = prepare_event(
            event, fields, default_brand_id=self.settings.brand_id, now_epoch=self._clock.time()
        )
        delivery = Delivery(loop.create_future(), prepared.event_id)
        self._queue.append(prepared, delivery, self._clock.monotonic())
        wake = self._ensure_flusher(loop)
        # The flusher only needs waking when the deadline moves earlier: the queue was empty
        # (it sleeps with no deadline) or the count trigger fired. Later deadlines it finds itself.
        if len(self._queue) == 1 or len(self._queue) >= self.settings.batch_size:
            wake.set()
        return delivery

    async def flush(self) -> None:
        """Send every queued event now and return once each was answered (delivered or finally
        failed; events being retried are waited for, backoff included)."""
        pending = [item.delivery for item in self._in_flight] + self._queue.deliveries()
        if self._destroyed or not pending:
            return
        self._queue.request_flush()
        self._ensure_flusher(asyncio.get_running_loop()).set()
        await asyncio.wait([delivery.settled() for delivery in pending])

    async def get_token(self) -> str:
        """The current bearer token, authorizing first if needed (for sibling SDKs)."""
        self._check_alive()
        return await self._auth.get_token()

    def destroy(self) -> None:
        """Stop timers, drop queued events (their awaitables raise) and release the shared token.

        Call it on logout. ``await flush()`` first to send what is queued, or use
        ``async with create_client(...) as masivo:`` which does both.
        """
        if self._destroyed:
            return
        self._destroyed = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        dropped = self._in_flight + self._queue.clear()
        self._in_flight = []
        error = MasivoError(
            "The client was destroyed before this event was sent; await flush() before destroy()."
        )
        for item in dropped:
            item.delivery.fail(error, log=False)
        if dropped:
            logger.warning("masivo_web: destroy() dropped %d unsent event(s)", len(dropped))
        auth.release(self._auth)

    async def __aenter__(self) -> MasivoClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.flush()
        finally:
            self.destroy()

    def __repr__(self) -> str:
        state = "destroyed" if self._destroyed else f"{len(self._queue)} queued"
        return f"<MasivoClient {self.settings.api_base} {state}>"

    # -- the flusher -----------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._destroyed:
            raise MasivoConfigError(
                "This client was destroyed; create a new one with create_client()."
            )

    def _ensure_flusher(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
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
                self._in_flight = batch
                try:
                    await self._deliver(batch)
                except Exception as exc:  # a bug must fail its batch, never kill the flusher
                    logger.exception("masivo_web: unexpected error while sending a batch")
                    for item in batch:
                        item.delivery.fail(MasivoError(f"Unexpected SDK error: {exc!r}"))
                finally:
                    self._in_flight = []
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

    async def _authorize(self) -> str:
        request = api.authorize_request(
            self.settings.auth_url, self.settings.api_key, self.settings.timeout_s
        )
        return api.read_authorize_response(await self._transport.send(request))

    async def _deliver(self, batch: list[QueuedEvent]) -> None:
        groups = [[item] for item in batch] if self.settings.event_route == "behavior" else [batch]
        for group in groups:
            try:
                outcomes = await self._send_with_auth(group)
            except MasivoAuthError as exc:  # no retry can fix it: report, never loop
                outcomes = [api.Outcome("rejected", exc.status or 401, error=exc)] * len(group)
            except MasivoError as exc:  # network failure, or an authorize 5xx: retry later
                outcomes = [api.Outcome("retry", exc.status or 0, error=exc)] * len(group)
            self._settle(group, outcomes)

    async def _send_with_auth(self, items: list[QueuedEvent]) -> list[api.Outcome]:
        token = await self._auth.get_token()
        response = await self._transport.send(self._request(items, token))
        if response.status == 401:
            # The token expired or was revoked: drop it, authorize once, try once more.
            self._auth.invalidate(token)
            token = await self._auth.get_token()
            response = await self._transport.send(self._request(items, token))
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
            single=self.settings.event_route == "behavior",
            now_epoch=self._clock.time(),
        )

    def _request(self, items: list[QueuedEvent], token: str) -> Request:
        settings = self.settings
        if settings.event_route == "behavior":
            return api.single_request(
                settings.api_base, token, items[0].event.json, settings.timeout_s
            )
        return api.batch_request(
            settings.api_base, token, [item.event.json for item in items], settings.timeout_s
        )

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
