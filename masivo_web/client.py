"""``create_client`` and ``MasivoClient``: the public face. Validates input, shares the token
of its API key, and hands events to its :class:`~masivo_web.dispatch.Dispatcher`."""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from . import api, auth
from .config import EventRoute, Settings, check_settings
from .delivery import Delivery
from .dispatch import Dispatcher
from .durable import namespace_for, persistence_for
from .errors import MasivoConfigError, MasivoError
from .events import new_event_id, prepare_event
from .lifecycle import PageLifecycle
from .runtime import Clock, SystemClock, current_page, running_loop
from .transports import Transport, default_transport

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
    on_error: Callable[[MasivoError, str], None] | None = None,
    clock: Clock | None = None,
    random: Callable[[], float] | None = None,
) -> MasivoClient:
    """Create a Masivo client for a CLIENT API key. Needs no event loop: nothing is sent and no
    timer starts until the first event.

    ``brand_id`` is injected into events that have a ``platform`` but no ``brand_id``. Events are
    sent in batches of ``batch_size`` (at most 100), after ``idle_flush_s`` without a new event,
    ``max_wait_s`` after the oldest queued event, or on ``await flush()``.
    ``event_route="behavior"`` sends each event alone to the single-event route.
    ``on_error(error, event_id)`` receives each failure nobody awaited (default: a warning on the
    ``masivo_web`` logger).
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
        on_error=on_error,
    )


class MasivoClient:
    """Sends analytics events to Masivo in batches. Create it with :func:`create_client`.

    >>> async def main():
    ...     async with create_client("your-client-api-key") as masivo:
    ...         masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: Transport,
        clock: Clock,
        random: Callable[[], float],
        on_error: Callable[[MasivoError, str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._clock = clock
        self._auth = auth.acquire(settings.api_key, settings.auth_url, self._authorize, clock)
        page = current_page()  # None under CPython: no listeners, no storage
        namespace = namespace_for(settings.api_key, settings.api_base)
        self._dispatcher = Dispatcher(
            settings,
            transport=transport,
            clock=clock,
            random=random,
            auth=self._auth,
            persistence=persistence_for(page, namespace, new_event_id(), clock),
            on_error=on_error,
        )
        self._destroyed = False
        self._lifecycle = PageLifecycle(
            self._dispatcher.flush_for_page_hide, self._dispatcher.set_online
        )
        if self._lifecycle.install(page):
            assert page is not None
            self._dispatcher.set_online(page.online())
            self._dispatcher.start_recovery(running_loop())  # in a page the WebLoop is there

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
        return self._dispatcher.enqueue(prepared, loop)

    async def flush(self) -> None:
        """Send every queued event now and return once each was answered (delivered or finally
        failed; events being retried are waited for, backoff included)."""
        await self._dispatcher.flush()

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
        self._lifecycle.remove()
        dropped = self._dispatcher.close()
        if dropped:
            logger.warning("masivo_web: destroy() dropped %d unsent event(s)", dropped)
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
        state = "destroyed" if self._destroyed else f"{len(self._dispatcher)} queued"
        return f"<MasivoClient {self.settings.api_base} {state}>"

    # -- the flusher -----------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._destroyed:
            raise MasivoConfigError(
                "This client was destroyed; create a new one with create_client()."
            )

    async def _authorize(self) -> str:
        request = api.authorize_request(
            self.settings.auth_url, self.settings.api_key, self.settings.timeout_s
        )
        return api.read_authorize_response(await self._transport.send(request))
