"""Browser transport: the page's own ``fetch``, through Pyodide's ``js`` bridge.

Imported only inside Pyodide (see :func:`masivo_web.transports.default_transport`). Failures are
named honestly: a request that got no answer is a :class:`MasivoNetworkError` saying whether it
timed out (our ``AbortController``) or the network failed, not a bare ``AbortError``.
"""

from __future__ import annotations

from typing import Any

from ..errors import MasivoNetworkError
from .base import Request, Response


def fetch_init(request: Request, signal: Any = None) -> Any:
    """The JS ``RequestInit`` object for ``request`` (a plain JS object, not a Map)."""
    import js
    from pyodide.ffi import to_js

    init: dict[str, Any] = {"method": request.method, "headers": dict(request.headers)}
    if request.body is not None:
        init["body"] = request.body.decode("utf-8")
    if request.keepalive:
        init["keepalive"] = True
    if signal is not None:
        init["signal"] = signal
    return to_js(init, dict_converter=js.Object.fromEntries)


class FetchTransport:
    """Sends requests with the browser's ``fetch``; a timeout aborts them."""

    async def send(self, request: Request) -> Response:
        import js
        from pyodide.ffi import JsException, create_once_callable

        controller = js.AbortController.new()
        timed_out = False

        def abort() -> None:
            nonlocal timed_out
            timed_out = True
            controller.abort()

        timer = js.setTimeout(create_once_callable(abort), int(request.timeout_s * 1000))
        try:
            answer = await js.fetch(request.url, fetch_init(request, controller.signal))
            body = (await answer.arrayBuffer()).to_bytes()
            headers = {str(name).lower(): str(value) for name, value in answer.headers.entries()}
            return Response(status=int(answer.status), headers=headers, body=body)
        except JsException as exc:
            if timed_out:
                raise MasivoNetworkError(
                    f"No answer from {request.url} within {request.timeout_s:g} s; "
                    "the events will be retried. Raise timeout_s if the network is slow."
                ) from exc
            raise MasivoNetworkError(
                f"The browser could not reach {request.url} ({exc}). The device may be offline, "
                "the host may be blocked (ad blocker) or refuse CORS. The events will be retried."
            ) from exc
        finally:
            js.clearTimeout(timer)
