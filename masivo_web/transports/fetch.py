"""Browser transport: the page's own ``fetch``, through the JS bridge
(:func:`masivo_web.runtime.jsbridge.js_bridge`: Pyodide's or MicroPython's).

Imported only in a browser's Python (see :func:`masivo_web.transports.default_transport`).
Failures are named honestly: a request that got no answer is a :class:`MasivoNetworkError`
saying whether it timed out (our ``AbortSignal.timeout``) or the network failed, not a bare
``TimeoutError``.

:meth:`FetchTransport.start` calls ``fetch`` synchronously, so the request is already on its way
when it returns: that is what lets a ``pagehide`` handler send before the page is gone (an
``await`` in the handler would resume too late; ``pyfetch`` would not start at all).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from ..errors import MasivoNetworkError
from ..rules.http import Request, Response
from ..runtime.jsbridge import js_bridge, js_globals


def fetch_init(request: Request, *, signal: Any) -> Any:
    """The JS ``RequestInit`` object for ``request`` (a plain JS object, not a Map)."""
    bridge = js_bridge()
    init: dict[str, Any] = {
        "method": request.method,
        "headers": dict(request.headers),
        "signal": signal,
    }
    if request.body is not None:
        # Bytes (as a Uint8Array): a 100-event batch as a str would be decoded into a JS
        # string and encoded back to UTF-8 by fetch, on the main thread.
        init["body"] = bridge.js_body(request.body)
    if request.keepalive:
        init["keepalive"] = True
    return bridge.js_object(init)


class FetchTransport:
    """Sends requests with the browser's ``fetch``; a timeout aborts them. A request marked
    ``keepalive`` survives the page being closed (the client keeps those within the budget of
    :mod:`masivo_web.rules.keepalive`)."""

    def start(self, request: Request) -> Coroutine[Any, Any, Response]:
        """Start the request now (synchronously); await the result for the answer."""
        js = js_globals()
        # One call makes the deadline: the signal aborts the request by itself, and says so
        # (``aborted``) when it did. Fewer bridge crossings than a controller and a timer.
        signal = js.AbortSignal.timeout(max(1, int(request.timeout_s * 1000)))
        promise = js.fetch(request.url, fetch_init(request, signal=signal))
        return self._answer(request, promise, signal)

    async def send(self, request: Request) -> Response:
        return await self.start(request)

    async def _answer(self, request: Request, promise: Any, signal: Any) -> Response:
        bridge = js_bridge()
        try:
            answer = await promise
            body = await bridge.read_body(answer)
            headers = {str(name).lower(): str(value) for name, value in answer.headers.entries()}
            return Response(status=int(answer.status), headers=headers, body=body)
        except bridge.js_exception as exc:
            if signal.aborted:
                error = MasivoNetworkError(
                    f"No answer from {request.url} within {request.timeout_s:g} s; "
                    "raise timeout_s if the network is slow."
                )
                error.timed_out = True
            else:
                error = MasivoNetworkError(
                    f"The browser could not reach {request.url} ({exc}). The device may be "
                    "offline, or the host blocked (ad blocker) or refusing CORS."
                )
            # Not ``raise ... from exc``: MicroPython prints a warning for every such raise.
            error.__cause__ = exc
            raise error from None
