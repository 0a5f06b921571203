"""A static file server for pages (the demo, the browser tests), on its own origin.

The page and the API live on different origins, as in production, so CORS is exercised: the
emulator answers on one port, this serves ``static/`` on another.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Mapping
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012  # overrides the stdlib class attribute of that shape
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".whl": "application/zip",
    }

    #: Sent with every answer (e.g. the COOP/COEP pair that makes a page cross-origin isolated).
    extra_headers: Mapping[str, str] = {}  # set per server by a subclass

    def end_headers(self) -> None:
        # Rebuilt wheels keep their name; never let a page run yesterday's code.
        self.send_header("Cache-Control", "no-cache")
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A page reloaded mid-download resets its connections: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ThreadedServer:
    """An HTTP server answering from a daemon thread while its ``with`` block lasts (the pages'
    server here; the benchmark's collector of the peers' events too)."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        server.daemon_threads = True
        self._server = server
        self.host, self.port = str(server.server_address[0]), int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, daemon=True, name=f"{name}-{self.port}"
        )

    @property
    def url(self) -> str:
        """The origin, e.g. ``http://127.0.0.1:8000``."""
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class StaticServer(ThreadedServer):
    """Serves ``directory`` on ``host`` (a free port unless ``port`` is given) from a thread,
    adding ``headers`` to every answer."""

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory} does not exist")
        handler_class = type("_Handler", (_QuietHandler,), {"extra_headers": dict(headers or {})})
        handler = functools.partial(handler_class, directory=str(directory))
        super().__init__(_Server((host, port), handler), "masivo-static")
        self.host = host
