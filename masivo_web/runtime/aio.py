"""The asyncio the SDK uses, and nothing more: a settable result, tasks, a wake-up with a timeout.

CPython's asyncio, Pyodide's WebLoop and MicroPython's asyncio share ``create_task``, ``sleep``,
``Event`` and task cancellation; they do not share futures (``loop.create_future`` is broken in
MicroPython), ``add_done_callback``, ``shield``, ``asyncio.wait`` or ``call_soon``. So results
are built here from an ``Event`` per waiter, and the rest of the package asks this module (and
:mod:`masivo_web.runtime`) for tasks; ``tests/unit/test_rules.py`` keeps it so.

A waiter that is cancelled (``wait_for``, ``asyncio.timeout``, a failing ``TaskGroup``
sibling) only stops *waiting*: it never touches the result, the work that produces it, or any
other waiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from .clock import Clock
from .scheduling import running_loop

T = TypeVar("T")


class Settable(Generic[T]):
    """A result set once, by the SDK, and awaited by any number of waiters (or none).

    ``set_value``/``set_error`` never raise, whatever the waiters did; each waiter has its own
    ``Event`` (made only when someone waits: most results are never awaited), so a waiter on
    an event loop that has ended cannot break a waiter on the next one.
    """

    __slots__ = ("_error", "_value", "_waiters", "is_set")

    def __init__(self) -> None:
        self.is_set = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Event] = []

    def set_value(self, value: T) -> None:
        """Settle with ``value`` (ignored once settled)."""
        if not self.is_set:
            self._value = value
            self._settle()

    def set_error(self, error: BaseException) -> None:
        """Settle with ``error``, raised to every waiter (ignored once settled)."""
        if not self.is_set:
            self._error = error
            self._settle()

    def _settle(self) -> None:
        self.is_set = True
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    @property
    def error(self) -> BaseException | None:
        """The error it settled with, if any."""
        return self._error

    @property
    def value(self) -> T | None:
        """The value it settled with (None before, or after a failure)."""
        return self._value

    async def wait(self) -> T:
        """The value once settled; raises its error. Cancelling the waiter changes nothing."""
        if not self.is_set:
            event = asyncio.Event()
            self._waiters.append(event)
            try:
                await event.wait()
            finally:
                if event in self._waiters:  # cancelled: this waiter is gone
                    self._waiters.remove(event)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    async def settled(self) -> None:
        """Return once settled, whichever way (never raises its error)."""
        try:  # not contextlib.suppress: MicroPython has no contextlib
            await self.wait()
        except Exception:  # only the settling matters here
            pass


def spawn(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coroutine`` as a task of the loop the SDK works on (see ``runtime.running_loop``)."""
    return running_loop().create_task(coroutine)


def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` if it is still running (None is fine)."""
    if task is not None and not task.done():
        task.cancel()


class Wakeup:
    """A task that sleeps until a deadline or until someone calls :meth:`set`, whichever first."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._event = asyncio.Event()

    def set(self) -> None:
        """Wake the sleeper now (or make its next sleep return at once)."""
        self._event.set()

    async def sleep(self, seconds: float | None) -> None:
        """Until :meth:`set` was called, or ``seconds`` passed (None: no deadline)."""
        if seconds is None:
            await self._event.wait()
        else:
            timer = spawn(self._ring_after(seconds))
            try:
                await self._event.wait()
            finally:
                cancel(timer)
        self._event.clear()

    async def _ring_after(self, seconds: float) -> None:
        await self._clock.sleep(seconds)
        self._event.set()


async def first_of(*work: Callable[[], Coroutine[Any, Any, Any]]) -> int:
    """Run each coroutine function as a task; return the index of the first to end (by result
    or error) once it ended, after cancelling the others. No task awaits another (in
    MicroPython, cancelling a task that awaits a task cancels the awaited one too)."""
    done: Settable[int] = Settable()

    async def run(index: int, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        try:
            await make()
        finally:
            done.set_value(index)

    tasks = [spawn(run(index, make)) for index, make in enumerate(work)]
    try:
        return await done.wait()
    finally:
        for task in tasks:
            cancel(task)
