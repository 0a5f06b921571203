"""CPython transport over ``httpx`` (``pip install 'masivo_web[httpx]'``): the default under
CPython wherever httpx is installed; :class:`~masivo_web.transports.cpython.stdlib.StdlibTransport`
otherwise.

What it adds to the standard-library transport: the environment's proxies (``HTTPS_PROXY``,
``NO_PROXY``...) and certificates (``SSL_CERT_FILE``) are honoured, and connections are kept and
reused between batches (one TLS handshake per host, not one per request). Failures map to the
same errors: no answer is a :class:`~masivo_web.MasivoNetworkError` saying whether it timed out.

An httpx client belongs to the event loop it was first used on, so there is one per loop (a
``SyncClient`` runs its own). Each is closed when its loop ends: a task waits for the loop's
end (``asyncio.run`` and ``SyncClient`` cancel what is left) and closes the connections then,
so no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from ...errors import MasivoConfigError, MasivoNetworkError
from ...rules.http import Request, Response

_USER_AGENT = "masivo_web (CPython, httpx)"


class HttpxTransport:
    """Sends requests with an ``httpx.AsyncClient`` per event loop (``trust_env``: proxies and
    certificates from the environment)."""

    def __init__(self) -> None:
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._closers: set[asyncio.Task[None]] = set()

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(trust_env=True, headers={"user-agent": _USER_AGENT})
            self._clients[loop] = client
            closer = loop.create_task(self._close_with_the_loop(loop, client))
            self._closers.add(closer)  # a task nobody references may be collected
            closer.add_done_callback(self._closers.discard)
        return client

    async def _close_with_the_loop(
        self, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient
    ) -> None:
        try:
            await asyncio.Event().wait()  # until the end of the loop cancels this task
        finally:
            self._clients.pop(loop, None)
            await client.aclose()

    async def send(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MasivoConfigError(f"Cannot send to {request.url!r}: use an http(s) URL.")
        origin = f"{parts.scheme}://{parts.netloc}"
        try:
            answer = await self._client().request(
                request.method,
                request.url,
                content=request.body,
                headers=dict(request.headers),
                timeout=request.timeout_s,
            )
        except httpx.TimeoutException as exc:
            timeout = MasivoNetworkError(
                f"No answer from {origin} within {request.timeout_s:g} s; "
                "raise timeout_s if the network is slow."
            )
            timeout.timed_out = True
            raise timeout from exc
        except httpx.HTTPError as exc:
            raise MasivoNetworkError(
                f"Could not reach {origin} ({type(exc).__name__}: {exc}); "
                "check the URL, the connection and any proxy settings."
            ) from exc
        headers = {name.lower(): value for name, value in answer.headers.items()}
        return Response(status=answer.status_code, headers=headers, body=answer.content)
