"""Where the SDK runs: the one place that decides "am I in a browser?", the page bridge, and
clock and sleep.

Everything else asks this module. Only :func:`current_page` (and the fetch transport) touch
``js``/``pyodide``, lazily, so ``import masivo_web`` under CPython touches no browser API.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from ._record import Record
from .errors import MasivoConfigError
from .keepalive import KeepaliveBudget

#: True inside Pyodide / PyScript (Emscripten). The only runtime check in the package.
IS_BROWSER: bool = sys.platform == "emscripten"


class Clock(Protocol):
    """Time as the SDK sees it. Injectable so tests never wait on wall time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: deadlines and backoff."""
        ...

    def time(self) -> float:
        """Seconds since the Unix epoch: ``issued_at`` and token expiry."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.time`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def running_loop() -> asyncio.AbstractEventLoop:
    """The loop to schedule SDK work on, or a :class:`MasivoConfigError` that says what to do.

    In the browser Pyodide's WebLoop is always there, even in code a JS event handler calls
    synchronously; under CPython a loop must be running.
    """
    if IS_BROWSER:  # the WebLoop; get_running_loop() raises (slowly) in a JS handler's call
        return asyncio.get_event_loop()
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise MasivoConfigError(
            "send_analytics_event() needs a running asyncio event loop, and none is running. "
            "From synchronous CPython code (a script, a WSGI view), use SyncClient: "
            "`with SyncClient(key) as masivo: masivo.send_analytics_event(...)`; or wrap the "
            "work in a coroutine: `async def main(): async with create_client(key) as masivo: "
            "...` and call `asyncio.run(main())`."
        ) from None


def loop_running() -> bool:
    """Whether SDK work can be scheduled now (always in a page; under CPython, inside a
    running event loop)."""
    if IS_BROWSER:
        return True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def log_handler() -> logging.Handler:
    """Where ``debug=True`` writes: the browser console in a page (``console.debug`` for debug
    lines, so they are not shown as errors), stderr under CPython."""
    if not IS_BROWSER:
        return logging.StreamHandler()

    class ConsoleHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            import js

            write = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn"}.get(
                record.levelname, "error"
            )
            getattr(js.console, write)(self.format(record))

    return ConsoleHandler()


def at_exit(callback: Callable[[], object]) -> None:
    """Call ``callback`` when the interpreter exits (CPython); a page has no such moment (its
    last chance is ``pagehide``), so there it does nothing."""
    if not IS_BROWSER:
        import atexit

        atexit.register(callback)


def next_turn(callback: Callable[[], object]) -> None:
    """Run ``callback`` soon, in a task of its own: not in the caller's (a tracking call's).

    Under CPython, the running loop's ``call_soon`` (or at once when no loop runs: a client
    closed after its loop ended). In a page, ``loop.call_soon`` costs ~30 µs (a Handle, a
    closure and a one-shot JS proxy, then ``setTimeout``), and a tracking call needed two
    (the storage write and the flusher's wake-up): here the callbacks of one turn share one
    message to a ``MessageChannel`` whose handler was made once, so a call pays for a list
    append, and the first of a turn for one JS call. (A message, unlike ``setTimeout``, is
    neither clamped to 4 ms nor throttled to once a second in a background tab.)
    """
    if not IS_BROWSER:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            callback()
        else:
            loop.call_soon(callback)
        return
    _soon.append(callback)
    if len(_soon) == 1:
        (_post or _open_channel())(None)


_soon: list[Callable[[], object]] = []
_post: Callable[[None], None] | None = None
_channel: Any = None  # kept: its port's handler must live as long as the module


def _run_soon(*_: object) -> None:
    callbacks = _soon[:]
    _soon.clear()  # a callback that calls next_turn() posts a new message
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:  # one failing callback must not stop the others
            asyncio.get_event_loop().call_exception_handler(
                {"message": f"masivo_web: {callback!r} failed", "exception": exc}
            )


def _open_channel() -> Callable[[None], None]:
    global _post, _channel
    import js
    from pyodide.ffi import create_proxy

    _channel = js.MessageChannel.new()
    _channel.port1.onmessage = create_proxy(_run_soon)
    unref = getattr(_channel.port1, "unref", None)  # Node: do not keep the process alive
    if unref is not None:
        unref()
    _post = _channel.port2.postMessage
    return _post


class Page(Record):
    """The browser page as the SDK uses it: the only door to ``js`` besides the fetch transport.

    Built by :func:`current_page` inside Pyodide on a window's main thread; tests build one from
    fakes. ``local_storage`` is None where storage is disabled (a browser setting, or a sandboxed
    iframe throws on access).
    """

    __slots__ = (
        "create_proxy",
        "document",
        "keepalive_budget",
        "local_storage",
        "navigator",
        "session_storage",
        "shared",
        "window",
    )

    def __init__(
        self,
        window: Any,
        document: Any,
        navigator: Any,
        local_storage: Any,
        create_proxy: Callable[[Callable[..., Any]], Any],
        session_storage: Any = None,
    ) -> None:
        self.window = window
        self.document = document
        self.navigator = navigator
        self.local_storage = local_storage
        #: ``window.sessionStorage`` (the tab's), or None where storage is disabled.
        self.session_storage = session_storage
        self.create_proxy = create_proxy
        #: The page's keepalive bytes in flight: one budget per page, shared by its clients.
        self.keepalive_budget = KeepaliveBudget()
        #: What the page's clients share besides (the site's visitor: identity and consent).
        self.shared: dict[str, Any] = {}

    def online(self) -> bool:
        """``navigator.onLine`` (True when unknown)."""
        return bool(getattr(self.navigator, "onLine", True))


_page: Page | None = None


def current_page() -> Page | None:
    """The page this interpreter runs in, or None (CPython, server-side rendering, a worker).
    The same :class:`Page` every time: its clients share its keepalive budget."""
    global _page
    if not IS_BROWSER:
        return None
    if _page is None:
        _page = _read_page()
    return _page


def _read_page() -> Page | None:
    import js
    from pyodide.ffi import create_proxy

    window = getattr(js, "window", None)
    document = getattr(js, "document", None)
    if window is None or document is None:
        return None
    storages = []
    for name in ("localStorage", "sessionStorage"):
        try:
            storages.append(getattr(window, name))
        except Exception:  # SecurityError when the user or an iframe sandbox disabled storage
            storages.append(None)
    local, session = storages
    return Page(window, document, window.navigator, local, create_proxy, session)
