"""Time as the SDK sees it: the :class:`Clock` port and the real one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

from .interpreter import INTERPRETER


class Clock(Protocol):
    """Time as the SDK sees it. Injectable so tests never wait on wall time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: deadlines and backoff."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch: ``issued_at`` and token expiry."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


def _js_monotonic() -> Callable[[], float]:
    import js

    now = js.performance.now  # MicroPython's ticks follow Date.now(), which can jump

    def monotonic() -> float:
        return float(now()) / 1000

    return monotonic


_monotonic = _js_monotonic() if INTERPRETER == "micropython" else time.monotonic


class SystemClock:
    """The real clock: ``time.monotonic`` (``performance.now()`` in MicroPython), ``time.time``
    and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return _monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
