"""CPython transport: HTTP/1.1 over ``asyncio`` streams, standard library only.

``urllib`` blocks, and running it in a thread pool would break the "no threads" rule, so this
speaks just enough HTTP/1.1 itself: one request per connection (``Connection: close``), bodies
framed by ``Content-Length`` or chunked encoding, TLS through ``ssl``. Every failure to get an
answer (refused, reset, DNS, timeout, a garbled response) becomes ``MasivoNetworkError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

from ...errors import MasivoConfigError, MasivoNetworkError
from ...rules.http import Request, Response

_USER_AGENT = "masivo_web (CPython)"
#: Longest response the SDK reads; Masivo answers are small, so more means something is wrong.
_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class StdlibTransport:
    """Sends requests with ``asyncio.open_connection``; never blocks the event loop."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context

    async def send(self, request: Request) -> Response:
        try:
            return await asyncio.wait_for(self._exchange(request), timeout=request.timeout_s)
        except TimeoutError as exc:
            timeout = MasivoNetworkError(
                f"No answer from {_origin(request.url)} within {request.timeout_s:g} s; "
                "raise timeout_s if the network is slow."
            )
            timeout.timed_out = True
            raise timeout from exc
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise MasivoNetworkError(
                f"Could not reach {_origin(request.url)} ({type(exc).__name__}: {exc}); "
                "check the URL and the connection."
            ) from exc

    async def _exchange(self, request: Request) -> Response:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MasivoConfigError(f"Cannot send to {request.url!r}: use an http(s) URL.")
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        context = (self._ssl_context or ssl.create_default_context()) if secure else None
        reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context)
        try:
            writer.write(_encode_request(request, parts.netloc, parts.path or "/", parts.query))
            await writer.drain()
            return await _read_response(reader)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _encode_request(request: Request, host: str, path: str, query: str) -> bytes:
    target = f"{path}?{query}" if query else path
    body = request.body or b""
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name in request.headers}
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    if "user-agent" not in names:
        lines.append(f"User-Agent: {_USER_AGENT}")
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> Response:
    status_line = (await reader.readline()).decode("latin-1")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {status_line[:40]!r}")
    status = int(rest.split(" ", 1)[0])
    headers: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n"):
            break
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > _MAX_RESPONSE_BYTES:
            raise ValueError(f"response of {length} bytes is too large")
        body = await reader.readexactly(length)
    else:
        body = await reader.read(_MAX_RESPONSE_BYTES)
    return Response(status=status, headers=headers, body=body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readline()  # the blank line after the last chunk (no trailers sent)
            return b"".join(chunks)
        total += size
        if total > _MAX_RESPONSE_BYTES:
            raise ValueError("chunked response is too large")
        chunks.append(await reader.readexactly(size))
        await reader.readline()
