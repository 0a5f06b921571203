"""The thread a :class:`~masivo_web.sync.SyncClient` runs its asyncio client on, and the future
its tracking calls return.

Every call into the loop has a bound: a wait checks every half second that the thread is still
alive (a fork leaves it in the parent; the end of the program stops it), and a call that only
queues or reads gives up after :data:`CALL_BOUND_S` with a :class:`MasivoError` saying why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import MasivoError
from ..rules.results import Delivery, SendEventResult

T = TypeVar("T")

#: The longest a call that only queues or reads (not ``flush``/``close``, which take a timeout)
#: may wait for the loop thread before it raises: it normally answers within milliseconds.
CALL_BOUND_S = 30.0
#: How often a waiting call checks that the loop thread is still alive.
_LIVENESS_CHECK_S = 0.5


class DeliveryFuture(concurrent.futures.Future[SendEventResult]):
    """What ``SyncClient.send_analytics_event`` returns: ``result(timeout)`` blocks until Masivo
    answered for the event (sending its batch at once rather than at the batch timers) and
    gives a :class:`SendEventResult`, or raises the :class:`MasivoError` that ended it.

    Not waiting is fine: the event is sent with its batch, and a failure goes to ``on_error``.
    """

    def __init__(self, event_id: str, claim: Callable[[], None]) -> None:
        super().__init__()
        #: The id the SDK gave the event (the same on every retry).
        self.event_id = event_id
        self._claim = claim

    def result(self, timeout: float | None = None) -> SendEventResult:
        """The answer for the event, waiting at most ``timeout`` seconds."""
        if not self.done():
            self._claim()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The error that ended the event (None once delivered), waiting at most ``timeout``."""
        if not self.done():
            self._claim()
        return super().exception(timeout)

    def settle(self, delivery: Delivery) -> None:
        """Take ``delivery``'s outcome (its ``on_settled`` callback)."""
        if delivery.error is not None:
            self.set_exception(delivery.error)
        elif delivery.value is not None:
            self.set_result(delivery.value)


class LoopThread:
    """An event loop running for ever on a daemon thread, and bounded calls into it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="masivo-web-sync", daemon=True
        )
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], bound_s: float = CALL_BOUND_S) -> T:
        """Run ``coroutine`` on the loop and return its result, within ``bound_s`` seconds."""
        future = self.submit(coroutine)
        try:
            return self.wait(future, bound_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MasivoError(
                f"The SyncClient's loop thread did not answer within {bound_s:g} s (it is "
                "blocked: a callback such as on_error or before_send that blocks, or a "
                "deadlock). The call was abandoned."
            ) from None

    def call_within(
        self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None, on_timeout: T
    ) -> T:
        """:meth:`call`, giving ``on_timeout`` (not an error) after ``timeout_s`` seconds."""
        future = self.submit(coroutine)
        try:
            return self.wait(future, timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()  # stops the waiting only: the sending goes on
            return on_timeout

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def wait(self, future: concurrent.futures.Future[T], timeout_s: float | None) -> T:
        """``future``'s result within ``timeout_s`` (None: no limit), raising MasivoError at
        once if the loop thread is gone (nothing would ever answer)."""
        waited = 0.0
        while True:
            step = (
                _LIVENESS_CHECK_S
                if timeout_s is None
                else min(_LIVENESS_CHECK_S, timeout_s - waited)
            )
            try:
                return future.result(max(0.0, step))
            except concurrent.futures.TimeoutError:
                waited += step
                if not self._thread.is_alive():
                    future.cancel()
                    raise MasivoError(
                        "The SyncClient's loop thread is not running (the process was forked "
                        "or is shutting down); the call cannot complete."
                    ) from None
                if timeout_s is not None and waited >= timeout_s:
                    raise

    def stop(self) -> None:
        """Stop the thread quietly: the loop's tasks end before the loop does."""
        if self._thread.is_alive():
            drained = asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self.loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                drained.result(5)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()

    def abandon(self) -> None:
        """In a forked child: the thread stayed in the parent (its lock may be held for ever).
        The loop is kept, never closed (that would touch what the parent still runs) nor
        collected (its finaliser would warn)."""
        _abandoned.append(self.loop)


async def _cancel_the_rest() -> None:
    current = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not current]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


#: The loops of SyncClients made before a fork, in the child: kept, never closed or collected.
_abandoned: list[asyncio.AbstractEventLoop] = []
