"""The delivery policy: every number that decides how hard the SDK tries, in one settings object.
(The keepalive budget is the page's, not a client's:
:class:`~masivo_web.rules.keepalive.KeepaliveBudget` on :class:`~masivo_web.browser.page.Page`.)

Each default says why it is that number. Tests, the reliability proof and the benchmarks pass a
:class:`DeliveryPolicy` with other numbers to ``create_client(policy=...)``: nothing patches a
module global.
"""

from __future__ import annotations

from typing import Any

from .._record import Record
from ..errors import MasivoConfigError


class DeliveryPolicy(Record):
    """How the SDK retries, bounds its queue and shares the network.

    >>> from masivo_web import DeliveryPolicy, create_client
    >>> masivo = create_client("key", policy=DeliveryPolicy(max_attempts=3))
    """

    __slots__ = (
        "authorize_floor_s",
        "backoff_base_s",
        "backoff_cap_s",
        "max_attempts",
        "max_event_age_s",
        "max_in_flight",
        "memory_bounds",
        "refused_key_backoff_s",
        "resume_delay_s",
        "retry_after_cap_s",
        "service_deduplicates",
        "stored_bounds",
    )

    def __init__(
        self,
        *,
        max_attempts: int = 10,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        retry_after_cap_s: float = 300.0,
        memory_bounds: tuple[int, int] = (10_000, 10_000_000),
        stored_bounds: tuple[int, int] = (1000, 1_000_000),
        max_event_age_s: float = 24 * 3600.0,
        max_in_flight: int = 4,
        resume_delay_s: float = 1.0,
        refused_key_backoff_s: float = 60.0,
        authorize_floor_s: float = 30.0,
        service_deduplicates: bool = False,
    ) -> None:
        #: Tries per event, the first included, before it is reported failed (Segment: 10).
        self.max_attempts = max_attempts
        #: First backoff; doubles per attempt (Segment 0.5 s, Amplitude 1 s)...
        self.backoff_base_s = backoff_base_s
        #: ...up to this (Segment: 60 s).
        self.backoff_cap_s = backoff_cap_s
        #: Longest ``Retry-After`` honoured: a hostile header cannot park events for days.
        self.retry_after_cap_s = retry_after_cap_s
        #: (events, bytes) the queue holds; past them the oldest are dropped (Python peers: 10k).
        self.memory_bounds = memory_bounds
        #: (events, bytes) with a copy in browser storage (Amplitude keeps 1000); the rest wait
        #: in memory and are stored as acknowledgements make room.
        self.stored_bounds = stored_bounds
        #: Longest an event is kept and retried (Segment 12 h; Masivo takes 72 h old events).
        self.max_event_age_s = max_event_age_s
        #: Batch requests on the wire at once: one cannot keep up with a burst, and a browser
        #: opens 6 connections per host (the page-hide flush may need some).
        self.max_in_flight = max_in_flight
        #: Wait after ``online`` before sending: at once fails with ERR_NETWORK_CHANGED.
        self.resume_delay_s = resume_delay_s
        #: After Masivo refused the API key, ask again only after this long (a key can be
        #: re-enabled; a refused key must not be asked for on every event).
        self.refused_key_backoff_s = refused_key_backoff_s
        #: Least time from a token's arrival to the next authorize request of its key: a token
        #: that looks expired on arrival, a clock that is off or a 401 on every send cannot
        #: become a flood (realm-js keeps 10 s; okta-auth-js had none and renewed forever on a
        #: clock 1 h ahead). Tokens are refreshed every 5 minutes. A failed authorize is tried
        #: again after ``backoff_base_s``, doubled per failure in a row up to 10 minutes.
        self.authorize_floor_s = authorize_floor_s
        #: Whether the service stores a repeated ``event_id`` once. Masivo documents no
        #: de-duplication, so by default what a page hands to a keepalive request as it goes,
        #: while the service answers normally, is not kept for the next page (which would send
        #: it again, counted twice); handed off while the service fails, it is kept and sent
        #: again. True: every event stays stored until answered (never lost to a keepalive
        #: request that fails after the page is gone; re-sent when the page dies first).
        self.service_deduplicates = service_deduplicates
        _check(self)


def _check(policy: DeliveryPolicy) -> None:
    def positive(name: str, value: Any, kind: type = float) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        if not ok or (kind is int and not isinstance(value, int)):
            raise MasivoConfigError(f"DeliveryPolicy {name} must be a positive {kind.__name__}.")

    for name in ("max_attempts", "max_in_flight"):
        positive(name, getattr(policy, name), int)
    for name in (
        "backoff_base_s",
        "backoff_cap_s",
        "retry_after_cap_s",
        "max_event_age_s",
        "resume_delay_s",
        "refused_key_backoff_s",
        "authorize_floor_s",
    ):
        positive(name, getattr(policy, name))
    if not isinstance(policy.service_deduplicates, bool):
        raise MasivoConfigError("DeliveryPolicy service_deduplicates must be True or False.")
    for name in ("memory_bounds", "stored_bounds"):
        bounds = getattr(policy, name)
        if not (isinstance(bounds, tuple) and len(bounds) == 2):
            raise MasivoConfigError(f"DeliveryPolicy {name} must be (events, bytes).")
        positive(f"{name}[0]", bounds[0], int)
        positive(f"{name}[1]", bounds[1], int)
