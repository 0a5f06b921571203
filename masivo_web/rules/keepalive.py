"""The page's keepalive byte budget (pure bookkeeping; one per page, held by its
:class:`~masivo_web.browser.page.Page` and reserved and released by each client's outbox).

Browsers refuse a ``fetch(..., {keepalive: true})`` once the bodies of keepalive requests in
flight from one page would pass 64 KiB; several requests each under 64 KiB can still fail
together (grafana/faro#1898, snowplow#1359). So the SDK counts its own in-flight keepalive
bytes and keeps a reserve for the page's other requests: 48 KiB, in line with the peers'
budgets (Amplitude 16 KiB, PostHog 52 428 B, Segment 54 KB).
"""

from __future__ import annotations

#: What the browser allows per page for keepalive bodies in flight.
BROWSER_KEEPALIVE_LIMIT = 64 * 1024
#: What masivo_web lets itself use of it: the rest is a reserve for the page's own requests.
KEEPALIVE_BUDGET_BYTES = BROWSER_KEEPALIVE_LIMIT - 16 * 1024


class KeepaliveBudget:
    """Bytes of keepalive request bodies in flight, against :data:`KEEPALIVE_BUDGET_BYTES`."""

    def __init__(self, limit: int = KEEPALIVE_BUDGET_BYTES) -> None:
        self.limit = limit
        self.in_flight = 0

    def available(self) -> int:
        """Bytes a new keepalive request body may still use."""
        return max(0, self.limit - self.in_flight)

    def reserve(self, size: int) -> bool:
        """Count ``size`` bytes as in flight if they fit; False (nothing counted) otherwise."""
        if size > self.available():
            return False
        self.in_flight += size
        return True

    def release(self, size: int) -> None:
        """The request that reserved ``size`` bytes is finished."""
        self.in_flight = max(0, self.in_flight - size)
