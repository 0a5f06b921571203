"""``SyncClient``: a blocking facade for CPython scripts and WSGI apps (code with no event loop).

It runs the same asyncio client on a private event-loop thread. Never imported by the rest of
the package, and so never in the browser (Pyodide has no threads).

>>> from masivo_web import SyncClient
>>> with SyncClient("your-client-api-key") as masivo:
...     masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from .client import MasivoClient
from .delivery import SendEventResult
from .errors import MasivoConfigError
from .factory import create_client
from .runtime import IS_BROWSER

T = TypeVar("T")


class SyncClient:
    """The :class:`MasivoClient` API, blocking. Takes the same arguments as ``create_client``.

    ``send_analytics_event`` queues and returns a :class:`concurrent.futures.Future` at once
    (``.result()`` waits for Masivo's answer); ``flush``, ``close`` and ``get_token`` block.
    """

    def __init__(self, api_key: str, **options: Any) -> None:
        if IS_BROWSER:
            raise MasivoConfigError(
                "SyncClient needs threads, which the browser does not have: use create_client()."
            )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="masivo-web-sync", daemon=True
        )
        self._thread.start()
        try:
            self._client: MasivoClient = self._call(self._create(api_key, options))
        except BaseException:
            self._stop()
            raise

    @staticmethod
    async def _create(api_key: str, options: dict[str, Any]) -> MasivoClient:
        return create_client(api_key, **options)

    def send_analytics_event(
        self, event: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> concurrent.futures.Future[SendEventResult]:
        """Validate and queue one event (raising ``MasivoValidationError`` here for bad input);
        the returned future resolves once Masivo answered for it."""

        async def queue() -> asyncio.Future[SendEventResult]:
            delivery = self._client.send_analytics_event(event, **fields)
            return asyncio.ensure_future(_await(delivery))

        task = self._call(queue())
        result: concurrent.futures.Future[SendEventResult] = concurrent.futures.Future()

        def relay(done: asyncio.Future[SendEventResult]) -> None:
            if done.exception() is not None:
                result.set_exception(done.exception())
            else:
                result.set_result(done.result())

        self._loop.call_soon_threadsafe(task.add_done_callback, relay)
        return result

    def identify(self, customer_id: str, traits: Mapping[str, Any] | None = None) -> None:
        """Remember the customer (see :meth:`MasivoClient.identify`)."""
        self._run(lambda: self._client.identify(customer_id, traits))

    def flush(self, timeout_s: float | None = None) -> None:
        """Block until everything queued was answered."""
        self._call(self._client.flush(), timeout_s)

    def get_token(self) -> str:
        """The current bearer token."""
        return self._call(self._client.get_token())

    def close(self, timeout_s: float = 10.0) -> bool:
        """Flush for at most ``timeout_s``, then stop; True when everything was settled."""
        try:
            return self._call(self._client.close(timeout_s))
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

    def _run(self, action: Callable[[], Any]) -> Any:
        async def call() -> Any:
            return action()

        return self._call(call())

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        if not self._thread.is_alive():
            coroutine.close()
            raise MasivoConfigError("This SyncClient was closed; create a new one.")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()


async def _await(delivery: Any) -> SendEventResult:
    result: SendEventResult = await delivery
    return result
