"""The last chance of a client nobody closed: its event loop is ending (a server's shutdown,
the end of ``asyncio.run``). Not in a page: a page's loop never ends, and its page-hide flush
is its last chance."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..runtime.aio import first_of
from ..runtime.clock import Clock
from .batch_path import BatchPath
from .outbox import Outbox

logger = logging.getLogger("masivo_web")

#: When the event loop ends under a client nobody closed, it sends what it holds for at most
#: this long before letting the loop end.
LAST_CHANCE_S = 5.0


async def last_chance(
    outbox: Outbox, path: BatchPath, clock: Clock, closed: Callable[[], bool]
) -> None:
    """Send what ``outbox`` holds along ``path`` for at most :data:`LAST_CHANCE_S` (until
    ``closed()``), then log what was not sent; never raises."""
    logger.warning(
        "masivo_web: the event loop is ending and a client that was never closed holds %d "
        "event(s): sending them now (at most %g s). Close the client in your app's shutdown "
        "(a FastAPI lifespan, `async with`, or `await masivo.close()`).",
        len(outbox.unsettled()),
        LAST_CHANCE_S,
    )
    deadline = clock.monotonic() + LAST_CHANCE_S

    async def send_all() -> None:
        while outbox.unsettled() and not closed():
            # Everything queued is due now; batches whose tasks were cancelled with this
            # one come back to the queue, due at once. An event waiting for its retry
            # backoff still waits for it (no retry storm at the end).
            outbox.queue.request_flush()
            batches = outbox.take(clock.monotonic())
            if not batches:
                await clock.sleep(0.01)
            for batch in batches:
                await path.walk(batch)

    try:
        left = deadline - clock.monotonic()
        await first_of(send_all, lambda: clock.sleep(left))
    except Exception:  # the loop is ending: say what was lost, never raise from here
        logger.exception("masivo_web: sending at the end of the event loop failed")
    unsent = len(outbox.unsettled())
    if unsent:
        logger.warning("masivo_web: %d event(s) were not sent before the event loop ended.", unsent)
