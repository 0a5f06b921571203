"""Where the SDK runs: the one place that decides which interpreter this is (CPython, Pyodide
or MicroPython), the page bridge, and clock and sleep.

Everything else asks this module. Only this module and :mod:`masivo_web.jsbridge` (which the
fetch transport and the page's storage go through) touch ``js``/``pyodide``/``jsffi``, lazily,
so ``import masivo_web`` under CPython touches no browser API. What differs between the
interpreters is written down in ``docs/runtimes.md``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from .errors import MasivoConfigError

#: Which Python this is: ``"cpython"``, ``"pyodide"`` (PyScript ``type="py"``) or
#: ``"micropython"`` (PyScript ``type="mpy"``). The only place that looks.
INTERPRETER: str = (
    "micropython"
    if sys.implementation.name == "micropython"
    else "pyodide"
    if sys.platform == "emscripten"
    else "cpython"
)
#: True inside a browser's Python (Pyodide or MicroPython; a page, a worker, or Node in tests).
IS_BROWSER: bool = INTERPRETER != "cpython"
#: Whether ``json.dumps`` refuses what JSON cannot carry (NaN, sets, objects). MicroPython's
#: writes them anyway (``nan``, ``{1}``), so values are checked before it is called.
STRICT_JSON: bool = INTERPRETER != "micropython"

try:
    from collections.abc import Mapping

    #: What an event may use as a dict: ``isinstance(value, MAPPINGS)``. Any ``Mapping`` where
    #: the interpreter has the ABC; MicroPython has none (its dict-likes are dicts).
    MAPPINGS: tuple[type[Mapping[Any, Any]], ...] = (dict, Mapping)
except ImportError:
    MAPPINGS = (dict,)


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


def _js_monotonic() -> Callable[[], float]:
    import js

    now = js.performance.now  # MicroPython's ticks follow Date.now(), which can jump

    def monotonic() -> float:
        return float(now()) / 1000

    return monotonic


_monotonic = _js_monotonic() if INTERPRETER == "micropython" else time.monotonic


class SystemClock:
    """The real clock: ``time.monotonic`` (``performance.now()`` in MicroPython), ``time.time``
    and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return _monotonic()

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


#: The process environment (``os.environ``; empty in MicroPython, which has none).
ENVIRON: Mapping[str, str] = getattr(os, "environ", {})

_ordered: Any = dict
if INTERPRETER == "micropython":
    import collections

    _ordered = collections.OrderedDict


def ordered_dict() -> dict[Any, Any]:
    """A new empty dict that keeps insertion order: a ``dict``, or in MicroPython (whose dicts
    do not keep it) an ``OrderedDict``. For the dicts whose order is the events' order."""
    return _ordered()  # type: ignore[no-any-return]


_random_hex: Any = None


def random_bytes(count: int) -> bytes:
    """``count`` crypto-grade random bytes: ``os.urandom``, or in MicroPython (whose ``random``
    is a small PRNG and which has no ``os.urandom``) ``crypto.getRandomValues``, brought over
    as one hex string (a ``Uint8Array`` would cross the bridge one item at a time)."""
    global _random_hex
    if INTERPRETER != "micropython":
        return os.urandom(count)
    if _random_hex is None:
        import js

        _random_hex = js.Function.new(
            "n",
            "return Array.from(crypto.getRandomValues(new Uint8Array(n)),"
            " (b) => (b < 16 ? '0' : '') + b.toString(16)).join('');",
        )
    return bytes.fromhex(str(_random_hex(count)))


#: zlib's level 6: most of level 9's saving on JSON for a fraction of its time.
GZIP_LEVEL = 6


def gzip(data: bytes) -> bytes:
    """``data`` in a gzip container (level 6; MicroPython's ``gzip.compress`` has no level)."""
    if INTERPRETER == "micropython":
        import gzip as gzip_module

        return bytes(gzip_module.compress(data))
    import zlib  # only for clients that ask for compression

    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip container
    return packer.compress(data) + packer.flush()


def host_context() -> dict[str, str]:
    """Locale and timezone (UTC offset) of the process, for events sent without a page: under
    CPython (MicroPython knows neither)."""
    if INTERPRETER == "micropython":
        return {}
    import locale

    context = {}
    language = locale.getlocale()[0]
    if language:
        context["locale"] = language.replace("_", "-")
    context["timezone"] = time.strftime("%z")
    return context


_fork_callbacks: list[Callable[[], object]] = []


def after_fork(callback: Callable[[], object]) -> None:
    """Call ``callback`` in the child right after this process forks (CPython with
    ``os.register_at_fork``; browsers do not fork). The child has only the forking thread: a
    client's loop thread and its tasks stayed in the parent, and a lock may be held for ever."""
    _fork_callbacks.append(callback)


def _in_forked_child() -> None:
    for callback in _fork_callbacks:
        try:
            callback()
        except Exception:  # a failing hook must not stop the others, nor the child
            logging.getLogger("masivo_web").exception("masivo_web: an after-fork hook failed")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_forked_child)


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


def end_of_task(callback: Callable[[], object]) -> None:
    """Run ``callback`` before the JS task that calls this ends (a microtask), so what it sends
    leaves before anything the page does after that task (a browser's Python only).

    MicroPython's asyncio runs every ready task within one JS callback, so a microtask would
    wait for all of them (a task that answers the page after an ``await`` would answer first):
    there the callbacks also run in a task of their own, before the caller's next step, if that
    comes first. Callbacks of one task share one microtask.
    """
    global _end_proxy
    _at_end.append(callback)
    if len(_at_end) > 1:
        return
    import js

    if _end_proxy is None:
        from .jsbridge import js_bridge

        _end_proxy = js_bridge().create_proxy(_run_at_end)
    js.queueMicrotask(_end_proxy)
    if INTERPRETER == "micropython":

        async def run() -> None:
            _run_at_end()

        asyncio.create_task(run())  # noqa: RUF006 - MicroPython's queue holds its tasks


_at_end: list[Callable[[], object]] = []
_end_proxy: Any = None


def _run_at_end(*_: object) -> None:
    callbacks = _at_end[:]
    _at_end.clear()
    run_each(callbacks)


def run_each(callbacks: list[Callable[[], object]]) -> None:
    """Call each of ``callbacks``; one that fails is reported (:func:`report_exception`) and
    does not stop the others."""
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:
            report_exception(exc, f"masivo_web: {callback!r} failed")


_soon: list[Callable[[], object]] = []
_post: Callable[[None], None] | None = None
_channel: Any = None  # kept: its port's handler must live as long as the module


def _run_soon(*_: object) -> None:
    callbacks = _soon[:]
    _soon.clear()  # a callback that calls next_turn() posts a new message
    run_each(callbacks)


def report_exception(exc: BaseException, message: str) -> None:
    """Report an error nobody can catch (it happened in a callback) where the interpreter
    reports those: the loop's exception handler, or the console in MicroPython (whose handler
    expects a task)."""
    if INTERPRETER == "micropython":
        print(message)
        sys.print_exception(exc)  # type: ignore[attr-defined]
    else:
        asyncio.get_event_loop().call_exception_handler({"message": message, "exception": exc})


def _open_channel() -> Callable[[None], None]:
    global _post, _channel
    import js

    from .jsbridge import js_bridge

    create_proxy = js_bridge().create_proxy
    _channel = js.MessageChannel.new()
    _channel.port1.onmessage = create_proxy(_run_soon)
    unref = getattr(_channel.port1, "unref", None)  # Node: do not keep the process alive
    if unref is not None:
        unref()
    _post = _channel.port2.postMessage
    return _post


def in_worker() -> bool:
    """Whether this browser's Python runs in a Web Worker (PyScript's ``worker`` attribute): a
    worker global scope and no ``window``. (Node, where the unit tests run, has neither.)"""
    if not IS_BROWSER:
        return False
    import js

    return getattr(js, "window", None) is None and hasattr(js, "WorkerGlobalScope")
