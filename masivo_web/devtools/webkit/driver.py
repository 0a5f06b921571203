"""WebDriver classic over HTTP, as WebKitWebDriver speaks it: one bounded call at a time."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

#: Longest any single driver call may take (a navigation to a page that boots an interpreter
#: returns at its ``load``; scripts have their own limit).
CALL_TIMEOUT_S = 120.0


class WebKitError(RuntimeError):
    """WebKitWebDriver refused a call, or a page's script threw; the message says which."""


def free_port() -> int:
    """A loopback port nothing listens on now (for the driver)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(method: str, url: str, body: Any = None, timeout_s: float = CALL_TIMEOUT_S) -> Any:
    """One WebDriver command: its ``value``, or :class:`WebKitError` with the driver's reason."""
    data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read() or b"{}").get("value")
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("value", {})
        raise WebKitError(
            f"WebKitWebDriver: {method} {url.rsplit('/session', 1)[-1]}: "
            f"{detail.get('error')}: {detail.get('message')}"
        ) from None
