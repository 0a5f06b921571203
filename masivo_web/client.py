"""``MasivoClient``: the public face. Validates input, adds who and where (identity, context),
and hands events to its :class:`~masivo_web.engine.flusher.Flusher`, which sends what its
:class:`~masivo_web.engine.outbox.Outbox` holds. ``create_client`` (in :mod:`masivo_web.factory`)
builds every part and passes them in."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .browser.context import page_fields
from .closing import Closing
from .errors import MasivoError, MasivoValidationError, short_repr
from .rules.config import Settings
from .rules.events import as_dict, prepare_event
from .rules.ids import new_id
from .rules.results import Delivery, not_sent
from .runtime.clock import Clock
from .runtime.interpreter import MAPPINGS
from .runtime.scheduling import running_loop

if TYPE_CHECKING:
    from .parts import ClientParts

logger = logging.getLogger("masivo_web")

#: What ``page()`` reads from the page, or takes as keywords: strings.
PAGE_FIELDS = ("url", "path", "referrer", "title", "search")


class MasivoClient(Closing):
    """Sends analytics events to Masivo in batches. Create it with :func:`create_client`.

    >>> async def main():
    ...     async with create_client("your-client-api-key") as masivo:
    ...         masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    """

    def __init__(
        self, settings: Settings, parts: ClientParts, *, clock: Clock, log: logging.Logger
    ) -> None:
        self._log = log  # where this client's debug lines go (masivo_web.debug: debug=True)
        self.settings = settings
        self._clock = clock
        self._page = parts.page
        self._identity = parts.identity
        self._context = parts.context
        self._auth = parts.auth
        self._service_clock = parts.auth.service_clock
        self._token_registry = parts.token_registry
        self._outbox = parts.outbox
        self._flusher = parts.flusher
        self._lifecycle = parts.lifecycle
        self._before_send = parts.before_send
        #: Events validated while the client is disabled (``enabled=False``), oldest first.
        self.recorded_events: list[dict[str, Any]] = []
        self._destroyed = False
        self._forked = False  # this process is a fork of the one that made the client
        # close() began, or the client is destroyed or forked: new events are refused (never
        # accepted, then dropped at the end).
        self._closing = False
        # A worker's first moments: the visitor and the page are not known yet. Events queued
        # meanwhile are noted (with the anonymous id they got and the fields the SDK filled)
        # and completed when the page answers, before any is stored or sent.
        self._first_events = parts.first_events
        self._unwire = parts.unwire

    # -- sending ---------------------------------------------------------------------------

    def send_analytics_event(self, *event: Mapping[str, Any] | None, **fields: Any) -> Delivery:
        """Validate and queue one event; returns at once.

        Give the event as a dict (one positional argument), as keyword arguments, or both
        (keywords win). Required:
        ``type`` and the ``brand_id`` key (None if brands do not apply); ``customer_id``
        defaults to the identified customer, else the anonymous id. The SDK adds ``event_id``,
        ``issued_at``, ``anonymous_id`` and ``context``. Awaiting the returned
        :class:`Delivery` is optional and gives a :class:`SendEventResult` once Masivo answered.

        >>> masivo.send_analytics_event(
        ...     type="ADD_TO_CART", customer_id="customer-123", brand_id="brand-456",
        ...     product={"sku": "SKU-001", "amount": 1, "value": 29.99})

        Raises :class:`MasivoValidationError` for bad input (nothing is queued) and
        :class:`MasivoConfigError` after ``destroy()`` or without a running event loop.
        """
        return self._send(event, fields, ())

    def _send(
        self, event: tuple[Any, ...], fields: dict[str, Any], page_keys: tuple[str, ...]
    ) -> Delivery:
        """``send_analytics_event``; ``page_keys``: the fields ``page()`` read from the page."""
        if self._closing:  # closing, destroyed, or forked: one check on the hot path
            self._check_alive()
        running_loop()  # no loop: a clear error now, not a lost event later
        context_json = None
        # ``*event``, not ``event=None, /``: MicroPython cannot parse positional-only parameters.
        if len(event) > 1:
            raise MasivoValidationError(
                f"send_analytics_event() takes one event dict, got {len(event)} positional "
                "arguments; merge them, or pass the fields as keywords."
            )
        given = event[0] if event else None
        if given is not None and type(given) is not dict and not isinstance(given, MAPPINGS):
            merged: Any = given  # validation refuses it, with the reason
        else:
            identity = self._identity
            merged = {
                "anonymous_id": identity.anonymous_id,
                "customer_id": identity.customer_id or identity.anonymous_id,
            }
            if given:
                merged.update(given)
            if fields:
                merged.update(fields)
            if self.settings.context and "context" not in merged:
                if self._before_send is None:
                    context_json = self._context.json()  # spliced in, already serialised
                else:
                    merged["context"] = self._context.fresh()  # before_send may change it
        if self._before_send is not None:
            import copy  # only for clients with a hook: not at import

            try:
                # A copy it may change freely: the application's own dicts stay as they were.
                changed = self._before_send(copy.deepcopy(merged))
            except Exception as exc:  # a broken hook drops the event, never the caller
                error = MasivoValidationError(
                    f"before_send raised {exc!r}; the event was dropped. Fix the hook, or "
                    "return None from it to drop events on purpose."
                )
                error.__cause__ = exc
                return self._failed(error)
            if changed is None:
                return not_sent(new_id(), "dropped by before_send")
            if not isinstance(changed, MAPPINGS):
                raise MasivoValidationError("before_send must return the event (a dict) or None.")
            merged = dict(changed)
        # Stamped with the service's time; until it is known, with the device's, provisionally
        # (the outbox stamps the event again from its age before it leaves).
        service_now = self._service_clock.now()
        prepared = prepare_event(
            merged,
            default_brand_id=self.settings.brand_id,
            now_epoch=self._clock.time() if service_now is None else service_now,
            context_json=context_json,
            provisional=service_now is None,
        )
        if not self.settings.enabled:
            self.recorded_events.append(json.loads(prepared.json))
            return not_sent(prepared.event_id, "client disabled")
        if self._identity.opted_out:
            return not_sent(prepared.event_id, "opted out")
        if self._log.isEnabledFor(logging.DEBUG):  # cached by logging: cheaper than the call
            self._log.debug("masivo_web: queued %s %s", prepared.type, prepared.event_id)
        if self._first_events is not None and self._first_events.open:
            filled_context = self.settings.context and not (
                (given and "context" in given) or "context" in fields
            )
            self._first_events.note(
                prepared, self._identity.anonymous_id, filled_context, page_keys
            )
        return self._flusher.enqueue(prepared)

    def page(
        self,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Delivery:
        """Send a page view (type ``page_event_type``, default ``PAGE_VIEW``) with ``url``,
        ``path``, ``referrer``, ``title`` and ``search`` read from the page now. Under CPython
        there is no page: pass at least ``url=``. Other keywords go into the event.

        >>> masivo.page("Checkout", {"step": 2})
        """
        if name is not None and not isinstance(name, str):
            raise MasivoValidationError(f"page() name must be a string; got {short_repr(name)}.")
        for key in PAGE_FIELDS:
            if key in fields and not isinstance(fields[key], str):
                raise MasivoValidationError(
                    f"page() {key!r} must be a string; got {short_repr(fields[key])}."
                )
        page = self._page
        where = (
            page_fields(page, query_strings=self.settings.query_strings) if page is not None else {}
        )
        event: dict[str, Any] = {"type": self.settings.page_event_type, "brand_id": None}
        event.update(where)
        event.update(fields)
        if not event.get("url"):
            raise MasivoValidationError(
                "page() has no page to read here (CPython): pass url=..., and path, referrer, "
                "title and search if you have them."
            )
        if name is not None:
            event["name"] = name
        if properties is not None:
            event["properties"] = as_dict("page() properties", properties)
        return self._send((event,), {}, tuple(key for key in where if key not in fields))

    # -- identity --------------------------------------------------------------------------

    @property
    def anonymous_id(self) -> str:
        """This visitor's anonymous id: minted once, kept in the page's storage."""
        return self._identity.anonymous_id

    @property
    def customer_id(self) -> str | None:
        """The customer given to :meth:`identify`, until :meth:`reset`."""
        return self._identity.customer_id

    def identify(self, customer_id: str, traits: Mapping[str, Any] | None = None) -> Delivery:
        """Remember the customer (kept across page loads) so later events may omit
        ``customer_id``, and send an ``identify_event_type`` event (default ``IDENTIFY``) that
        ties this visitor's anonymous id, and so the events before it, to the customer.

        >>> masivo.identify("customer-123", {"plan": "gold"})
        """
        if not isinstance(customer_id, str) or not customer_id:
            raise MasivoValidationError("identify() needs the customer's id as a non-empty string.")
        event: dict[str, Any] = {
            "type": self.settings.identify_event_type,
            "customer_id": customer_id,
            "brand_id": None,
        }
        if traits is not None:
            event["traits"] = as_dict("identify() traits", traits)
        delivery = self.send_analytics_event(event)
        self._identity.identify(customer_id)
        return delivery

    def reset(self) -> None:
        """Logout: forget the customer and become a new anonymous visitor. The events already
        queued (the last customer's, with their traits and pages) are sent at once rather than
        at the next batch timer, so their stored copies leave the browser as soon as Masivo
        acknowledges them."""
        self._identity.reset()
        if self._outbox.queue.items:
            self._flusher.expedite()

    # -- consent ---------------------------------------------------------------------------

    @property
    def opted_out(self) -> bool:
        """Whether the visitor opted out of tracking (kept across page loads)."""
        return self._identity.opted_out

    def opt_out(self) -> None:
        """Stop tracking: queued events are dropped (and their stored copies), new ones are
        not sent. Remembered across page loads until :meth:`opt_in`."""
        self._identity.opt_out()  # every client of this site's visitor drops its queue

    def opt_in(self) -> None:
        """Resume tracking after :meth:`opt_out`."""
        self._identity.opt_in()

    def where(self, event_id: str) -> str | None:
        """Where an event is now: ``"queued"``, ``"taken"`` (its request about to start),
        ``"sent"`` (on the wire, unanswered), or None once settled (or unknown)."""
        return self._outbox.where(event_id)

    async def get_token(self) -> str:
        """The current bearer token, authorizing first if needed (for sibling SDKs)."""
        self._check_alive()
        return await self._auth.get_token()

    async def __aenter__(self) -> MasivoClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing = True  # what is tracked from here is refused, not dropped at the end
        try:
            await self._flushed_all()
        finally:
            self.destroy()

    def __repr__(self) -> str:
        state = "destroyed" if self._destroyed else f"{len(self._outbox)} queued"
        return f"<MasivoClient {self.settings.api_base} {state}>"

    # -- internals -------------------------------------------------------------------------

    def _failed(self, error: MasivoError) -> Delivery:
        """A delivery failed at once (reported to ``on_error`` unless someone awaits it)."""
        delivery = Delivery(new_id(), self._outbox.report)
        delivery.fail(error)
        return delivery
