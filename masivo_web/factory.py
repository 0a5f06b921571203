"""``create_client``: the composition root. Checks every option at once, then builds each part
of a :class:`MasivoClient` (page bridge, storage, transport, clock, token manager, outbox,
flusher, page lifecycle) and passes them in. Tests and benchmarks inject their own parts here."""

from __future__ import annotations

import logging
import random as _random
import weakref
from collections.abc import Callable
from typing import Any, Never

from . import parts
from .browser.context import EventContext, static_context
from .browser.page import Page
from .client import MasivoClient
from .engine.event_store import namespace_for
from .engine.flusher import Flusher
from .engine.outbox import Outbox
from .engine.token_registry import TokenRegistry, shared_tokens
from .engine.wire import Wire
from .parts import BeforeSend, ClientParts, OnError
from .rules import api
from .rules.config import Compression, EventRoute, Settings
from .rules.http import Transport
from .rules.ids import new_id
from .rules.policy import DeliveryPolicy
from .rules.ports import Storage
from .runtime.clock import Clock, SystemClock
from .runtime.host import after_fork, at_exit, log_handler
from .runtime.interpreter import IS_BROWSER
from .transports import default_transport

logger = logging.getLogger("masivo_web")

#: ``page=`` default: the page this interpreter runs in, if any.
DETECT: Any = object()


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
    event_route: EventRoute = "analytics",
    on_error: OnError | None = None,
    before_send: BeforeSend | None = None,
    context: bool = True,
    enabled: bool = True,
    debug: bool = False,
    page_event_type: str = "PAGE_VIEW",
    identify_event_type: str = "IDENTIFY",
    compression: Compression = None,
    query_strings: bool = True,
    policy: DeliveryPolicy | None = None,
    transport: Transport | None = None,
    clock: Clock | None = None,
    random: Callable[[], float] | None = None,
    page: Page | None = DETECT,
    storage: Storage | None = None,
    tokens: TokenRegistry | None = None,
    **unknown: Never,  # a wrong keyword: MasivoConfigError naming the nearest one
) -> MasivoClient:
    """Create a Masivo client for a CLIENT API key. Needs no event loop: nothing is sent and no
    timer starts until the first event.

    ``auth_url`` defaults to ``https://api.masivo.ai/auth/authorize`` and ``api_base`` to
    ``https://app.masivo.ai/api/storefront/v1``, or to the ``MASIVO_AUTH_URL`` and
    ``MASIVO_API_BASE`` environment variables when they are set (point a script at a local
    emulator without editing it). ``brand_id`` is injected into events that have
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
    ``query_strings=False`` leaves query strings out of the page's URL and referrer in the
    context and in ``page()`` events (they may hold tokens or e-mail addresses; campaign
    ``utm_*`` names are still read). ``policy`` sets retries, queue bounds and concurrency
    (:class:`DeliveryPolicy`).

    The parts, for tests and special set-ups: ``transport`` (how requests reach the network),
    ``clock`` and ``random``, ``page`` (the browser page, or None for none; detected by
    default), ``storage`` (where identity, consent and queued events are kept; the page's
    ``localStorage`` by default, memory without a page) and ``tokens`` (the ``TokenRegistry``
    through which clients of one key share a token). Their types are in :mod:`masivo_web.seams`.

    >>> masivo = create_client("your-client-api-key", brand_id="brand-456")

    Raises :class:`MasivoConfigError` at once for a bad argument.
    """
    # By name, not from locals() (MicroPython's locals() are the module's): see config.Settings.
    settings = Settings(
        api_key=api_key,
        brand_id=brand_id,
        auth_url=auth_url,
        api_base=api_base,
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
        query_strings=query_strings,
    )
    if unknown:
        raise parts.unknown_options(list(unknown))
    parts.check_parts(
        on_error=on_error,
        before_send=before_send,
        debug=debug,
        policy=policy,
        transport=transport,
        clock=clock,
        random=random,
        page=None if page is DETECT else page,
        storage=storage,
        tokens=tokens,
    )
    return build_client(
        settings,
        policy=DeliveryPolicy() if policy is None else policy,
        transport=default_transport() if transport is None else transport,
        clock=SystemClock() if clock is None else clock,
        random=_random.random if random is None else random,
        page=parts.detected_page() if page is DETECT else page,
        storage=storage,
        tokens=shared_tokens if tokens is None else tokens,
        on_error=on_error,
        before_send=before_send,
        log=_debug_log() if debug else logger,
    )


def build_client(
    settings: Settings,
    *,
    policy: DeliveryPolicy,
    transport: Transport,
    clock: Clock,
    random: Callable[[], float],
    page: Page | None,
    storage: Storage | None,
    tokens: TokenRegistry,
    on_error: OnError | None,
    before_send: BeforeSend | None,
    log: logging.Logger = logger,
) -> MasivoClient:
    """Wire checked settings and parts into a client (``create_client`` checks, this builds);
    ``log``: where its debug lines go."""
    namespace = namespace_for(settings.api_key, settings.api_base)
    given_storage = storage is not None
    if storage is None:
        storage = parts.page_storage(page)  # None without a page, or with storage disabled
    persistence = parts.persistence_for(
        page, storage, namespace, new_id(), clock, policy.stored_bounds
    )

    async def authorize() -> str:
        request = api.authorize_request(settings.auth_url, settings.api_key, settings.timeout_s)
        response = await transport.send(request)
        manager.service_clock.observe_date(
            response.headers.get("date"), received_at=clock.monotonic()
        )
        return api.read_authorize_response(response, settings.auth_url)

    manager = tokens.acquire(
        settings.api_key,
        settings.auth_url,
        transport,
        authorize,
        clock,
        refused_backoff_s=policy.refused_key_backoff_s,
        floor_s=policy.authorize_floor_s,
        failure_backoff_s=policy.backoff_base_s,
        cache=parts.tab_token(page, settings),
        random=random,
        log=None if log is logger else log,
    )
    outbox = Outbox(
        settings,
        policy,
        wire=Wire(settings, transport, page.keepalive_budget if page is not None else None),
        clock=clock,
        random=random,
        persistence=persistence,
        report=on_error,
        service_clock=manager.service_clock,
    )
    flusher = Flusher(outbox, manager, settings, policy, clock, log)
    outbox.on_change = flusher.wake  # a batch's end frees room, or schedules retries
    lifecycle = parts.page_lifecycle(flusher)
    identity = parts.visitor(page, storage, namespace, shared=not given_storage)
    context = EventContext(page, static_context(page), query_strings=settings.query_strings)

    def drop_for_opt_out() -> None:
        outbox.discard("opted out")

    def unwire() -> None:
        identity.opt_out_listeners.remove(drop_for_opt_out)
        if page is not None and page.link is not None:
            page.link.remove_planner(flusher)

    identity.opt_out_listeners.append(drop_for_opt_out)  # the visitor's, shared by the page
    first_events = None
    if page is not None and not identity.loaded:  # a worker before its page answered
        first_events = parts.worker_first_events(page, identity, context, outbox, settings)
    client = MasivoClient(
        settings,
        ClientParts(
            page=page,
            identity=identity,
            context=context,
            auth=manager,
            token_registry=tokens,
            outbox=outbox,
            flusher=flusher,
            lifecycle=lifecycle,
            before_send=before_send,
            first_events=first_events,
            unwire=unwire,
        ),
        clock=clock,
        log=log,
    )
    if lifecycle.install(page):
        assert page is not None
        flusher.set_online(page.online())
        if page.link is not None:  # a worker: the page starts the page-hide flush
            page.link.add_planner(flusher)
            outbox.on_settled = page.link.changed  # the plan changes with each answer
        page.when_ready(lambda: parts.start_in_page(page, flusher, manager, persistence))
    if _live_clients is not None:
        _live_clients.add(client)
    return client


#: The logger of the clients made with ``debug=True``: their debug lines, and only theirs.
DEBUG_LOGGER = "masivo_web.debug"


def _debug_log() -> logging.Logger:
    """``masivo_web.debug``, at DEBUG and printed: a client's ``debug=True`` shows that
    client's steps, without lowering the ``masivo_web`` logger for every other client."""
    log = logging.getLogger(DEBUG_LOGGER)
    log.setLevel(logging.DEBUG)
    if not (log.handlers or logger.handlers or logging.getLogger().handlers):
        handler = log_handler()  # nothing is configured to print it (else it prints once)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        log.addHandler(handler)
    return log


#: Clients not destroyed yet: at interpreter exit (CPython; a page has none, and MicroPython no
#: WeakSet), each that still holds events says so.
_live_clients: weakref.WeakSet[MasivoClient] | None = None if IS_BROWSER else weakref.WeakSet()


def _report_unsent_at_exit() -> None:
    for client in list(_live_clients or ()):
        unsent = client.pending_events  # 0 once destroyed
        if unsent:
            message = (
                f"masivo_web: the program ended with {unsent} event(s) not sent by a client "
                "that was never closed; `await masivo.close()` (or `async with`) before the "
                "event loop ends, or use SyncClient, which flushes at exit."
            )
            logger.warning(message)
            import warnings

            warnings.warn(message, ResourceWarning, stacklevel=1)


at_exit(_report_unsent_at_exit)


def _forked() -> None:
    for client in list(_live_clients or ()):
        client._left_in_parent()


after_fork(_forked)
