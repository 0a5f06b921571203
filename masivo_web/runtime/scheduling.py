"""Scheduling the SDK's work: the loop to use, work deferred to the next turn or to the end of
the current JS task, and errors nobody can catch. No ``call_later``, no threads: what CPython's
asyncio, Pyodide's WebLoop and MicroPython's asyncio share (``tests/unit/test_rules.py``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from ..errors import MasivoConfigError
from .interpreter import INTERPRETER, IS_BROWSER


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
