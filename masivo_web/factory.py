"""``create_client``: checks every option at once, then builds a :class:`MasivoClient`."""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable

from . import api
from .client import BeforeSend, MasivoClient, OnError
from .config import Compression, EventRoute, check_settings
from .errors import MasivoConfigError
from .runtime import Clock, SystemClock
from .transports import Transport, default_transport


def create_client(
    api_key: str,
    *,
    brand_id: str | None = None,
    auth_url: str | None = None,
    api_base: str | None = None,
    batch_size: int = 100,
    idle_flush_s: float = 30.0,
    max_wait_s: float = 60.0,
    timeout_s: float = 10.0,
    transport: Transport | None = None,
    event_route: EventRoute = "analytics",
    on_error: OnError | None = None,
    before_send: BeforeSend | None = None,
    context: bool = True,
    enabled: bool = True,
    debug: bool = False,
    page_event_type: str = "PAGE_VIEW",
    identify_event_type: str = "IDENTIFY",
    compression: Compression = None,
    clock: Clock | None = None,
    random: Callable[[], float] | None = None,
) -> MasivoClient:
    """Create a Masivo client for a CLIENT API key. Needs no event loop: nothing is sent and no
    timer starts until the first event.

    ``auth_url`` defaults to ``https://api.masivo.ai/auth/authorize`` and ``api_base`` to
    ``https://app.masivo.ai/api/storefront/v1``. ``brand_id`` is injected into events that have
    a ``platform`` but no ``brand_id``. Events are sent in batches of ``batch_size`` (at most
    100), after ``idle_flush_s`` without a new event, ``max_wait_s`` after the oldest queued
    event, or on ``await flush()``. ``event_route="behavior"`` sends each event alone to the
    single-event route. ``on_error(error, event_id)`` receives each failure nobody awaited
    (default: a warning on the ``masivo_web`` logger). ``before_send(event)`` may change an
    event or return None to drop it. ``context=False`` leaves out the library/page/locale
    context. ``enabled=False`` validates and records events in ``client.recorded_events`` but
    sends nothing (tests, consent). ``debug=True`` logs every step on the ``masivo_web`` logger
    (the console in a page). ``compression="gzip"`` gzips request bodies (a fraction of the
    bytes on the wire, for some CPU per batch); use it only where the server accepts
    ``Content-Encoding: gzip`` (the local emulator does; Masivo does not document it).
    ``transport``, ``clock`` and ``random`` are for tests.

    >>> masivo = create_client("your-client-api-key", brand_id="brand-456")

    Raises :class:`MasivoConfigError` at once for a bad argument.
    """
    settings = check_settings(
        api_key=api_key,
        brand_id=brand_id,
        auth_url=api.DEFAULT_AUTH_URL if auth_url is None else auth_url,
        api_base=api.DEFAULT_API_BASE if api_base is None else api_base,
        batch_size=batch_size,
        idle_flush_s=idle_flush_s,
        max_wait_s=max_wait_s,
        timeout_s=timeout_s,
        event_route=event_route,
        context=context,
        enabled=enabled,
        page_event_type=page_event_type,
        identify_event_type=identify_event_type,
        compression=compression,
    )
    if transport is not None and not callable(getattr(transport, "send", None)):
        raise MasivoConfigError("transport must have an async send(request) method.")
    for name, hook in (("on_error", on_error), ("before_send", before_send)):
        if hook is not None and not callable(hook):
            raise MasivoConfigError(f"{name} must be a function or None.")
    if debug:
        _log_everything()
    return MasivoClient(
        settings,
        transport=transport or default_transport(),
        clock=clock or SystemClock(),
        random=random or _random.random,
        on_error=on_error,
        before_send=before_send,
    )


def _log_everything() -> None:
    logger = logging.getLogger("masivo_web")
    logger.setLevel(logging.DEBUG)
    if not logger.handlers:  # in Pyodide stderr is the browser console
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logger.addHandler(handler)
