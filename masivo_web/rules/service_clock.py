"""What Masivo's clock reads now, learned from what Masivo says; the device's clock is not trusted.

Masivo judges ``issued_at`` by its own clock (no later than its now, no older than 72 hours) and
its tokens' ``exp`` is its time too, while a visitor's clock can be minutes or days off. So the
SDK keeps an estimate of the service's time, anchored on the monotonic clock (which a user or
NTP changing the wall clock does not move):

- every answer that says the service's time is a *sample*: a token's ``iat``, or a ``Date``
  header (when the browser lets the page read it: cross-origin, only if the service exposes it);
- a sample is what the service's clock read *before* the answer arrived (both are truncated to
  the second), so ``sample - received_at`` never overestimates: the estimate is the highest of
  them, and an event stamped with it is never in the service's future;
- a sample lower by more than :data:`RESYNC_S` means the service's clock moved back (or the
  monotonic clock paused in a suspend): it is taken, so events never come out ahead.

Until the first sample, :meth:`ServiceClock.now` is None and events are stamped with the device's
time, provisionally: the outbox stamps them again from their monotonic age before they leave.
"""

from __future__ import annotations

from ..runtime.clock import Clock
from .retry import http_date

#: A sample this much below the estimate is believed (the service's clock went back, or the
#: monotonic clock paused); a smaller shortfall is the samples' one-second truncation.
RESYNC_S = 2.0


class ServiceClock:
    """The service's time, as an offset from the monotonic clock (no I/O).

    >>> service = ServiceClock(clock)
    >>> service.observe(1_796_000_000.0, received_at=clock.monotonic())
    >>> service.now()  # the service's epoch seconds, advancing with the monotonic clock
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # service epoch seconds - monotonic seconds; None until a sample (or a seed).
        self._base: float | None = None
        # The base came from a seed (the device clock and an earlier page's offset): the first
        # real sample replaces it whichever way it points.
        self._seeded = False

    def now(self) -> float | None:
        """The service's epoch seconds now, or None while nothing is known."""
        base = self._base
        return None if base is None else self._clock.monotonic() + base

    def observe(self, service_epoch: float, *, received_at: float) -> None:
        """The service said its clock read ``service_epoch`` in an answer that arrived at
        monotonic ``received_at``."""
        candidate = service_epoch - received_at
        base = self._base
        if base is None or self._seeded or candidate > base or base - candidate > RESYNC_S:
            self._base = candidate
            self._seeded = False

    def observe_date(self, header: str | None, *, received_at: float) -> None:
        """An answer's ``Date`` header (ignored when absent or unreadable)."""
        if header:
            moment = http_date(header)
            if moment is not None:
                self.observe(moment, received_at=received_at)

    def device_offset(self) -> float | None:
        """Service time minus device time now (kept with a token for the tab's next page)."""
        now = self.now()
        return None if now is None else now - self._clock.time()

    def seed(self, device_offset: float) -> None:
        """Start from an offset an earlier page of the tab learned (the device's clock is
        assumed not to have moved since); any sample replaces it."""
        if self._base is None:
            self._base = self._clock.time() + device_offset - self._clock.monotonic()
            self._seeded = True
