"""``SyncClient``: the whole client API, blocking, for CPython scripts and WSGI apps (code with no
event loop).

It runs the same asyncio client on a private event-loop thread, so events are batched exactly as
in the async client (50 quick events and a ``flush()`` are one request), and a failure nobody
waited for reaches ``on_error``. A script that ends without ``close()`` still sends: at
interpreter exit each open ``SyncClient`` flushes for at most ``exit_timeout_s`` and says what it
could not send. Never imported by the rest of the package, and so never in the browser (Pyodide
has no threads).

A process forked after the client was made (gunicorn ``--preload``, uWSGI without lazy-apps,
``multiprocessing`` with fork) has no loop thread: the child's first call starts a new one with
a new client (the parent's queued events stay the parent's: never sent twice). No call blocks
without a bound: one that cannot complete raises :class:`MasivoError` saying why.

>>> from masivo_web import SyncClient
>>> with SyncClient("your-client-api-key") as masivo:
...     masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from ..client import MasivoClient
from ..errors import MasivoConfigError, MasivoError
from ..factory import create_client
from ..rules.results import CloseResult, Delivery
from ..runtime.host import after_fork, at_exit
from ..runtime.interpreter import IS_BROWSER
from .loop_thread import CALL_BOUND_S, DeliveryFuture, LoopThread

T = TypeVar("T")
logger = logging.getLogger("masivo_web")

__all__ = ["DeliveryFuture", "SyncClient"]


class SyncClient:
    """The :class:`MasivoClient` API, blocking. Takes the arguments of ``create_client``, and
    ``exit_timeout_s``: how long it may flush at interpreter exit if it was not closed.

    ``send_analytics_event``, ``page`` and ``identify`` validate and queue at once and return a
    :class:`DeliveryFuture`; ``flush``, ``close`` and ``get_token`` block.
    """

    def __init__(self, api_key: str, *, exit_timeout_s: float = 5.0, **options: Any) -> None:
        if IS_BROWSER:
            raise MasivoConfigError(
                "SyncClient needs threads, which the browser does not have: use create_client()."
            )
        self.exit_timeout_s = exit_timeout_s
        self._api_key, self._options = api_key, options
        self._closed = False
        self._forked = False
        self._restart_lock = threading.Lock()
        self._start()
        _open_clients.add(self)

    def _start(self) -> None:
        """A loop thread and a client on it (at creation, and in a forked child)."""
        self._thread = LoopThread()
        try:
            self._client: MasivoClient = self._call(self._create(self._api_key, self._options))
        except BaseException:
            self._stop()
            raise

    def _left_in_parent(self) -> None:
        """In a forked child: the loop thread stayed in the parent: the next call starts a
        new one."""
        self._forked = True
        self._restart_lock = threading.Lock()
        self._thread.abandon()

    def _restart_if_forked(self) -> None:
        with self._restart_lock:
            if self._forked and not self._closed:
                self._forked = False
                logger.debug("masivo_web: SyncClient starting again in a forked process")
                self._start()

    @staticmethod
    async def _create(api_key: str, options: dict[str, Any]) -> MasivoClient:
        return create_client(api_key, **options)

    # -- sending ---------------------------------------------------------------------------

    def send_analytics_event(
        self, event: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> DeliveryFuture:
        """Validate and queue one event (``MasivoValidationError`` here for bad input); see
        :meth:`MasivoClient.send_analytics_event`."""
        return self._track(lambda: self._client.send_analytics_event(event, **fields))

    def page(
        self, name: str | None = None, properties: Mapping[str, Any] | None = None, **fields: Any
    ) -> DeliveryFuture:
        """Send a page view; under CPython pass ``url=`` (see :meth:`MasivoClient.page`)."""
        return self._track(lambda: self._client.page(name, properties, **fields))

    def identify(self, customer_id: str, traits: Mapping[str, Any] | None = None) -> DeliveryFuture:
        """Remember the customer and send the identify event (see
        :meth:`MasivoClient.identify`)."""
        return self._track(lambda: self._client.identify(customer_id, traits))

    def _track(self, call: Callable[[], Delivery]) -> DeliveryFuture:
        async def queue() -> DeliveryFuture:
            delivery = call()

            def claim() -> None:  # someone waits: theirs, not on_error's, and sent now
                self._thread.loop.call_soon_threadsafe(delivery.awaited)

            future = DeliveryFuture(delivery.event_id, claim)
            delivery.on_settled(future.settle)
            return future

        return self._call(queue())

    # -- identity and consent ----------------------------------------------------------------

    def reset(self) -> None:
        """Logout: forget the customer, become a new anonymous visitor."""
        self._do(self._client.reset)

    def opt_out(self) -> None:
        """Stop tracking and drop what is queued (see :meth:`MasivoClient.opt_out`)."""
        self._do(self._client.opt_out)

    def opt_in(self) -> None:
        """Resume tracking after :meth:`opt_out`."""
        self._do(self._client.opt_in)

    @property
    def opted_out(self) -> bool:
        """Whether the visitor opted out."""
        return self._client.opted_out

    @property
    def anonymous_id(self) -> str:
        """This visitor's anonymous id."""
        return self._client.anonymous_id

    @property
    def customer_id(self) -> str | None:
        """The identified customer, until :meth:`reset`."""
        return self._client.customer_id

    @property
    def recorded_events(self) -> list[dict[str, Any]]:
        """Events validated while disabled (``enabled=False``)."""
        return self._client.recorded_events

    def where(self, event_id: str) -> str | None:
        """Where an event is now (see :meth:`MasivoClient.where`)."""
        return self._do(lambda: self._client.where(event_id))

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self, timeout_s: float | None = None) -> bool:
        """Send what is queued and block until each event was answered, for at most
        ``timeout_s`` seconds (None: no limit). True when everything was settled in time;
        the sending goes on either way."""
        return self._call_within(self._flushed(), timeout_s, False)

    # The client is read when the coroutine runs, not when it is made: in a forked child the
    # call first starts a new client (_submit), and these must use that one.
    async def _token(self) -> str:
        return await self._client.get_token()

    async def _closed_in(self, timeout_s: float) -> CloseResult:
        return await self._client.close(timeout_s)

    async def _flushed(self) -> bool:
        await self._client.flush()
        return True

    def get_token(self, timeout_s: float = 60.0) -> str:
        """The current bearer token (for sibling SDKs), waiting at most ``timeout_s`` seconds
        (``MasivoError`` then: the authorize route is failing or slow)."""
        missing = object()
        token = self._call_within(self._token(), timeout_s, missing)
        if token is missing:
            raise MasivoError(
                f"No token within {timeout_s:g} s: Masivo's authorize route is failing or slow "
                "(the SDK backs off between tries); try again later."
            )
        assert isinstance(token, str)
        return token

    def close(self, timeout_s: float = 10.0) -> CloseResult:
        """Send what is queued until nothing is left or ``timeout_s`` seconds passed, then stop.
        Events tracked from another thread meanwhile are refused (``MasivoConfigError``), never
        accepted and dropped. A :class:`CloseResult`: true when every event was settled, with
        ``unsent``, how many were not (logged too)."""
        if self._closed:
            return CloseResult(0)
        try:
            return self._call(self._closed_in(timeout_s), timeout_s + CALL_BOUND_S)
        finally:
            self._stop()

    def destroy(self) -> None:
        """Stop at once, dropping what is queued (see :meth:`MasivoClient.destroy`)."""
        if not self._closed:
            try:
                self._do(self._client.destroy)
            finally:
                self._stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncClient {'closed' if self._closed else repr(self._client)}>"

    # -- the loop thread -------------------------------------------------------------------

    def _do(self, action: Callable[[], T]) -> T:
        async def call() -> T:
            return action()

        return self._call(call())

    def _call(self, coroutine: Coroutine[Any, Any, T], bound_s: float = CALL_BOUND_S) -> T:
        checked = self._checked(coroutine)  # first: it may start a new thread (a fork)
        return self._thread.call(checked, bound_s)

    def _call_within(
        self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None, on_timeout: T
    ) -> T:
        checked = self._checked(coroutine)  # first: it may start a new thread (a fork)
        return self._thread.call_within(checked, timeout_s, on_timeout)

    def _checked(self, coroutine: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        """``coroutine``, if this client may run it (in a forked child, on a new thread)."""
        if self._forked:
            self._restart_if_forked()
        if self._closed:
            coroutine.close()
            raise MasivoConfigError("This SyncClient was closed; create a new one.")
        return coroutine

    def _stop(self) -> None:
        """Stop the loop thread quietly: the client's tasks end before the loop does."""
        if self._closed:
            return
        self._closed = True
        _open_clients.discard(self)
        self._thread.stop()

    def _unsettled(self) -> int:
        return self._do(lambda: self._client.pending_events)


#: SyncClients not closed yet: each flushes at interpreter exit.
_open_clients: weakref.WeakSet[SyncClient] = weakref.WeakSet()


def _forked() -> None:
    for client in list(_open_clients):
        client._left_in_parent()


after_fork(_forked)


def _close_at_exit() -> None:
    for client in list(_open_clients):
        if client._forked:
            continue  # made before a fork and never used here: nothing of this process's
        try:
            unsent = client._unsettled()
            if not unsent:
                client.destroy()
                continue
            if not client.close(client.exit_timeout_s):
                logger.warning(
                    "masivo_web: at exit, a SyncClient that was not closed could not send "
                    "every event within %g s; call close() before the program ends.",
                    client.exit_timeout_s,
                )
        except Exception:  # the program is ending: never a traceback from here
            logger.exception("masivo_web: flushing a SyncClient at exit failed")


at_exit(_close_at_exit)
