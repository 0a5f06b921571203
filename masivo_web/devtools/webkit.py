"""WebKit for the browser tests and tools: the calls of Playwright's sync API that scenarios use,
over WebKitWebDriver (Debian's ``webkit2gtk-driver``: MiniBrowser with ``--automation``) under
a private Xvfb display. Playwright's own WebKit is a build of its own that cannot be downloaded
everywhere; the system's WebKitGTK can.

    with WebKit() as browser:                  # Xvfb, the driver, then sessions on demand
        context = browser.new_context()        # a WebDriver session: a fresh visit
        page = context.new_page()              # a window of its own (a tab would sit hidden)
        page.goto(url); page.evaluate("() => document.title")

What it gives: ``new_context``/``close``; ``new_page``, ``goto``, ``evaluate`` (a function, with
one argument, or an expression; promises awaited), ``wait_for_function``, ``wait_for_selector``
(``attached``), ``wait_for_url``, ``url``, ``close``, ``is_closed``, ``set_default_timeout``. What
WebDriver classic cannot give (request events, offline mode) raises ``NotImplementedError`` with
what to use instead. Every driver call is bounded: WebKitWebDriver may leave a script
unanswered while its page enters or leaves the back-forward cache.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

DRIVER = os.environ.get("MASIVO_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
MINIBROWSER = os.environ.get(
    "MASIVO_MINIBROWSER", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
)
#: Longest any single driver call may take (a navigation to a page that boots an interpreter
#: returns at its ``load``; scripts have their own limit).
CALL_TIMEOUT_S = 120.0
#: Runs a page function (or expression) with one argument; its promise is awaited.
_EVALUATE = """
const [source, arg, done] = arguments;
(async () => {
  let value = (0, eval)("(" + source + ")");
  if (typeof value === "function") value = await value(arg);
  return await value;
})().then(
  (value) => done({value: value === undefined ? null : value}),
  (error) => done({error: String(error && error.stack || error)}),
);
"""


class WebKitError(RuntimeError):
    """WebKitWebDriver refused a call, or a page's script threw; the message says which."""


class WebKit:
    """A WebKitGTK "browser": Xvfb and WebKitWebDriver, started on entry, stopped on exit."""

    def __init__(self, driver: str = DRIVER, minibrowser: str = MINIBROWSER) -> None:
        missing = [path for path in (driver, minibrowser) if not Path(path).exists()]
        if missing or shutil.which("Xvfb") is None:
            named = ", ".join(missing) or "Xvfb"
            raise WebKitError(
                f"WebKitGTK's driver, MiniBrowser or Xvfb is missing ({named}):"
                " apt-get install -y webkit2gtk-driver xvfb (make test does it), or set "
                "MASIVO_WEBKIT_DRIVER / MASIVO_MINIBROWSER."
            )
        self._driver, self._minibrowser = driver, minibrowser
        self._processes: list[subprocess.Popen[bytes]] = []
        self._contexts: list[Context] = []
        self.url = ""

    def __enter__(self) -> Self:
        read, write = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        self._processes.append(xvfb)
        with os.fdopen(read) as display_pipe:
            display = display_pipe.readline().strip()
        if not display:
            self.close()
            raise WebKitError("Xvfb did not start")
        port = _free_port()
        self._processes.append(
            subprocess.Popen(
                [self._driver, f"--port={port}", "--host=127.0.0.1"],
                env={**os.environ, "DISPLAY": f":{display}"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                _call("GET", f"{self.url}/status", timeout_s=2)
                break
            except (OSError, WebKitError):
                if time.monotonic() > deadline:
                    self.close()
                    raise WebKitError("WebKitWebDriver did not answer within 30 s") from None
                time.sleep(0.1)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def version(self) -> str:
        return "WebKitGTK"

    def new_context(self) -> Context:
        """A new WebDriver session: a browser with storage of its own (a new visit)."""
        options = {"binary": self._minibrowser, "args": ["--automation"]}
        answer = _call(
            "POST",
            f"{self.url}/session",
            {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": options}}},
        )
        context = Context(f"{self.url}/session/{answer['sessionId']}")
        self._contexts.append(context)
        return context

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        for process in reversed(self._processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()


class Context:
    """One WebDriver session. Its first window stays blank and open: closing a page never ends
    the session."""

    def __init__(self, session: str) -> None:
        self._session = session
        self._closed = False
        self._blank = str(_call("GET", f"{session}/window"))
        _call("POST", f"{session}/timeouts", {"script": int(CALL_TIMEOUT_S * 1000)})

    def new_page(self) -> Page:
        answer = _call("POST", f"{self._session}/window/new", {"type": "window"})
        return Page(self._session, str(answer["handle"]), self._blank)

    def set_offline(self, offline: bool) -> None:
        raise NotImplementedError(
            "WebDriver classic has no offline mode: make the service fail instead (the "
            "emulator's inject_fault) or stop it"
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                _call("DELETE", self._session, timeout_s=30)
            except (OSError, WebKitError):
                pass  # the browser is going anyway


class Page:
    """A window of a session, with Playwright's names for what scenarios do with a page."""

    def __init__(self, session: str, handle: str, blank: str) -> None:
        self._session, self._handle, self._blank = session, handle, blank
        self._closed = False
        self._timeout_ms = 30_000.0

    def _focus(self) -> None:
        _call("POST", f"{self._session}/window", {"handle": self._handle})

    def set_default_timeout(self, timeout_ms: float) -> None:
        self._timeout_ms = timeout_ms

    def goto(self, url: str) -> None:
        self._focus()
        _call("POST", f"{self._session}/url", {"url": url})

    @property
    def url(self) -> str:
        self._focus()
        return str(_call("GET", f"{self._session}/url"))

    def evaluate(self, source: str, arg: Any = None) -> Any:
        """Playwright's ``evaluate``: ``source`` is a function (called with ``arg``) or an
        expression; a promise is awaited; the value comes back as JSON."""
        self._focus()
        answer = _call(
            "POST",
            f"{self._session}/execute/async",
            {"script": _EVALUATE, "args": [source, arg]},
        )
        if "error" in answer:
            raise WebKitError(f"the page's script threw: {answer['error']}")
        return answer["value"]

    def wait_for_function(self, source: str, timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self._timeout_ms) / 1000
        while True:
            value = self.evaluate(source)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{source} stayed false for {timeout or self._timeout_ms} ms")
            time.sleep(0.05)

    def wait_for_selector(
        self, selector: str, state: str = "attached", timeout: float | None = None
    ) -> None:
        if state != "attached":
            raise NotImplementedError("only state='attached'")
        self.wait_for_function(
            f"() => document.querySelector({json.dumps(selector)}) !== null", timeout
        )

    def wait_for_url(self, url: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self._timeout_ms) / 1000
        while self.url != url:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page did not reach {url}")
            time.sleep(0.05)

    def on(self, event: str, handler: Any) -> None:
        raise NotImplementedError(
            "WebDriver classic reports no requests: count what the emulator received instead"
        )

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Closes the window as a visitor closes a tab."""
        if not self._closed:
            self._focus()
            _call("DELETE", f"{self._session}/window")
            self._closed = True
            _call("POST", f"{self._session}/window", {"handle": self._blank})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _call(method: str, url: str, body: Any = None, timeout_s: float = CALL_TIMEOUT_S) -> Any:
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
