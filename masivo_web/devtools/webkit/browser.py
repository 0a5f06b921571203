"""Xvfb and WebKitWebDriver (the browser), and its sessions (contexts)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .driver import CALL_TIMEOUT_S, WebKitError, call, free_port
from .page import Page

DRIVER = os.environ.get("MASIVO_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
MINIBROWSER = os.environ.get(
    "MASIVO_MINIBROWSER", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
)


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
        port = free_port()
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
                call("GET", f"{self.url}/status", timeout_s=2)
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

    def new_context(self, base_url: str | None = None, **options: Any) -> Context:
        """A new WebDriver session: a browser with storage of its own (a new visit).
        ``base_url`` prefixes relative ``goto`` addresses; Playwright's other context options
        have no WebDriver counterpart here and are refused by name."""
        unsupported = sorted(name for name, value in options.items() if value is not None)
        if unsupported:
            raise NotImplementedError(
                f"the WebKitGTK layer has no new_context option {', '.join(unsupported)}: "
                "leave it out for WebKit"
            )
        options = {"binary": self._minibrowser, "args": ["--automation"]}
        answer = call(
            "POST",
            f"{self.url}/session",
            {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": options}}},
        )
        context = Context(f"{self.url}/session/{answer['sessionId']}", base_url or "")
        self._contexts.append(context)
        return context

    def close(self) -> None:
        for context in self._contexts:
            # The class's close, not the instance's: pytest-playwright wraps that one, and its
            # wrapper has already run for each context it made.
            Context.close(context)
        for process in reversed(self._processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()


class Tracing:
    """Playwright's ``context.tracing``: WebDriver records no traces, so there is nothing to
    start (pytest-playwright stops it at every context's close: that does nothing)."""

    def start(self, **options: Any) -> None:
        raise NotImplementedError("no traces in WebKitGTK: run without --tracing")

    def stop(self, **options: Any) -> None:
        return None


class Context:
    """One WebDriver session. Its first window stays blank and open: closing a page never ends
    the session."""

    def __init__(self, session: str, base_url: str = "") -> None:
        self._session = session
        self._base_url = base_url
        self._closed = False
        self._on_page: list[Any] = []
        self._pages: list[Page] = []
        self.tracing = Tracing()
        self._blank = str(call("GET", f"{session}/window"))
        call("POST", f"{session}/timeouts", {"script": int(CALL_TIMEOUT_S * 1000)})

    @property
    def pages(self) -> list[Page]:
        """The context's open pages."""
        return [page for page in self._pages if not page.is_closed()]

    def on(self, event: str, handler: Any) -> None:
        """``"page"``: ``handler(page)`` for each new page; WebDriver reports nothing else."""
        if event != "page":
            raise NotImplementedError(
                f"WebDriver classic reports no {event!r} events: check the outcome instead"
            )
        self._on_page.append(handler)

    def new_page(self) -> Page:
        answer = call("POST", f"{self._session}/window/new", {"type": "window"})
        page = Page(self._session, str(answer["handle"]), self._blank, self._base_url, self)
        self._pages.append(page)
        for handler in self._on_page:
            handler(page)
        return page

    def set_offline(self, offline: bool) -> None:
        raise NotImplementedError(
            "WebDriver classic has no offline mode: make the service fail instead (the "
            "emulator's inject_fault) or stop it"
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                call("DELETE", self._session, timeout_s=30)
            except (OSError, WebKitError):
                pass  # the browser is going anyway
