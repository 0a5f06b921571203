"""What ``send_analytics_event`` returns: an optional-to-await handle on one event's fate."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import Any

from .._record import Record
from ..errors import MasivoError
from ..runtime.aio import Settable
from ..runtime.interpreter import INTERPRETER

logger = logging.getLogger("masivo_web")


class SendEventResult(Record):
    """How Masivo answered for one event.

    ``success`` is True when the event was stored (``status`` 201) or was already stored under the
    same ``event_id`` (``status`` 200); ``data`` is the server's answer for this event, e.g.
    ``{"index": 0, "status": 201, "id": "<event_id>"}``. A failure is raised instead, as a
    :class:`~masivo_web.MasivoError` subclass, by ``await``.
    """

    __slots__ = ("data", "status", "success")

    def __init__(self, success: bool, status: int, data: Any) -> None:
        self.success = success
        self.status = status
        self.data = data


class CloseResult:
    """What ``close(timeout_s)`` did: true when every event was settled (delivered or finally
    failed) in time; ``unsent`` is how many were not (in a page they stay stored, and the site's
    next page sends them).

    >>> result = await masivo.close(timeout_s=5)
    >>> if not result:
    ...     print(result.unsent, "event(s) not sent")
    """

    __slots__ = ("unsent",)

    def __init__(self, unsent: int) -> None:
        self.unsent = unsent

    def __bool__(self) -> bool:
        return self.unsent == 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):  # ``close() == True`` keeps meaning "everything settled"
            return bool(self) is other
        if isinstance(other, CloseResult):
            return self.unsent == other.unsent
        return NotImplemented

    def __hash__(self) -> int:
        return hash(bool(self))

    def __repr__(self) -> str:
        return f"CloseResult(unsent={self.unsent})"


def log_failure(error: MasivoError, event_id: str) -> None:
    """The default ``on_error``: a warning on the ``masivo_web`` logger."""
    logger.warning("masivo_web: event %s was not delivered: %s", event_id, error)


class DropSummary:
    """Without an ``on_error`` hook, a full queue would log a warning per new event: this logs
    one summary per ``interval_s`` instead (the count since the last line, and the reason)."""

    def __init__(self, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._unlogged = 0
        self._last: float | None = None

    def add(self, count: int, reason: str, now: float) -> None:
        self._unlogged += count
        if self._last is None or now - self._last >= self.interval_s:
            logger.warning(
                "masivo_web: dropped %d event(s) before delivery: %s", self._unlogged, reason
            )
            self._unlogged, self._last = 0, now


class Delivery(Settable[SendEventResult]):
    """The pending outcome of one queued event.

    ``await delivery`` sends the event's batch at once (no waiting for the batch timers) and
    gives a :class:`SendEventResult` once it was answered, or raises the
    :class:`~masivo_web.MasivoError` that ended its delivery. Awaiting is optional: an event
    nobody awaits is still delivered with its batch, and its failure goes to the client's
    ``on_error`` (by default a warning on the ``masivo_web`` logger) instead of surfacing as
    "exception was never retrieved".

    An awaiter may give up (``asyncio.wait_for``, ``asyncio.timeout``, a cancelled task): that
    stops its waiting only; the event is still delivered, and awaiting again later gives the
    answer.

    >>> # inside a coroutine
    >>> # result = await masivo.send_analytics_event(type="ADD_TO_CART", ...)
    """

    __slots__ = ("_awaited", "_expedite", "_observers", "_report", "event_id")

    def __init__(
        self,
        event_id: str,
        report: Callable[[MasivoError, str], None] | None = None,
        expedite: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._awaited = False
        self._report = report or log_failure
        self._expedite = expedite
        self._observers: list[Callable[[Delivery], None]] | None = None
        self.event_id = event_id

    def __await__(self) -> Generator[Any, None, SendEventResult]:
        self.awaited()
        return self.wait().__await__()

    if INTERPRETER == "micropython":  # its ``await`` asks for __iter__; its coroutines are one

        def __iter__(self) -> Any:
            self.awaited()
            return self.wait()

    def awaited(self) -> None:
        """Someone waits for the answer: failures are theirs (not ``on_error``'s), and the
        event's batch goes now rather than at the next batch timer."""
        self._awaited = True
        if self._expedite is not None and not self.is_set:
            self._expedite()

    def done(self) -> bool:
        """True once the event was acknowledged or finally failed."""
        return self.is_set

    def on_settled(self, observer: Callable[[Delivery], None]) -> None:
        """Call ``observer(delivery)`` once settled (at once if it already is)."""
        if self.is_set:
            observer(self)
        else:
            if self._observers is None:
                self._observers = []
            self._observers.append(observer)

    def resolve(self, result: SendEventResult) -> None:
        """Mark the event delivered (SDK internal; the first settlement wins)."""
        if not self.is_set:
            self.set_value(result)
            self._notify()

    def fail(self, error: MasivoError, *, log: bool = True) -> None:
        """Mark the event finally failed (SDK internal; the first settlement wins)."""
        if self.is_set:
            return
        self.set_error(error)
        if log and not self._awaited:
            try:
                self._report(error, self.event_id)
            except Exception:  # a broken on_error must not break delivery
                logger.exception("masivo_web: the on_error callback failed")
        self._notify()

    def _notify(self) -> None:
        observers, self._observers = self._observers, None
        for observer in observers or ():
            try:
                observer(self)
            except Exception:
                logger.exception("masivo_web: a delivery observer failed")

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<Delivery {self.event_id} {state}>"


def not_sent(event_id: str, reason: str) -> Delivery:
    """A delivery settled at once for an event the app chose not to send (``before_send``
    dropped it, the client is disabled or opted out): a result, not an error."""
    delivery = Delivery(event_id)
    delivery.resolve(SendEventResult(False, 0, {"reason": reason}))
    return delivery
