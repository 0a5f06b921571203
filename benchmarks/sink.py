"""The collector the JavaScript peers send to during the benchmark: one loopback origin that
answers PostHog's and Segment's ingestion routes with success, and counts what reached it.

It stands in for their cloud APIs (no network beyond loopback here): CORS like theirs (any
origin, preflights cached), every request logged with its wire bytes and the events it carried.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from masivo_web.emulator.static import ThreadedServer


def count_events(path: str, body: bytes, encoding: str | None) -> int:
    """How many events a request body carries (PostHog: a list or ``{"batch": [...]}``,
    optionally gzipped, or a form field ``data=``; Segment: ``{"batch": [...]}`` or one event)."""
    query = parse_qs(urlsplit(path).query)
    gzipped = encoding == "gzip" or "gzip" in (query.get("compression") or [""])[0]
    if gzipped or body[:2] == b"\x1f\x8b":  # posthog-js gzips without saying so in a header
        body = gzip.decompress(body)
    text = body.decode("utf-8", "replace")
    if text.startswith("data="):
        text = parse_qs(text)["data"][0]
    try:
        payload = json.loads(text)
    except ValueError:
        return 0
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        batch = payload.get("batch")
        return len(batch) if isinstance(batch, list) else 1
    return 0


class Sink(ThreadedServer):
    """The collector on a free loopback port; ``requests`` is its log."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                asked = self.headers.get("Access-Control-Request-Headers")
                if asked:
                    self.send_header("Access-Control-Allow-Headers", asked)
                self.send_header("Access-Control-Max-Age", "7200")

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _log(self, body: bytes) -> None:
                head = (
                    len(self.requestline)
                    + 2
                    + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
                )
                encoding = self.headers.get("Content-Encoding")
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "body_bytes": len(body),
                    "header_bytes": head + 2,
                    "events": count_events(self.path, body, encoding) if body else 0,
                    "at": time.time(),
                }
                with sink._lock:
                    sink.requests.append(entry)

            def do_OPTIONS(self) -> None:
                self._log(b"")
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._log(body)
                flags = "/flags" in self.path or "/decide" in self.path
                self._answer(b'{"featureFlags": {}}' if flags else b'{"status": 1}')

            def do_GET(self) -> None:
                self._log(b"")
                self._answer(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "peers-sink")

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)
