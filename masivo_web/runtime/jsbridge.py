"""The JS bridge of a browser's Python, behind one face: Pyodide's ``pyodide.ffi`` and
MicroPython's ``jsffi`` differ (docs/runtimes.md), and a JS call that throws synchronously is an
exception in one and an interpreter-wrecking unwind in the other.

``masivo_web.runtime`` decides which interpreter this is; this module asks it. It imports no JS
module itself: ``js``, ``pyodide.ffi`` and ``jsffi`` are reached when a function here is called,
in a browser, so importing it under CPython touches no browser API.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from .._record import Record
from .interpreter import INTERPRETER


class JsBridge(Record):
    """What differs between Pyodide's ``pyodide.ffi`` and MicroPython's ``jsffi``, behind one
    face: ``create_proxy(function)``, ``js_object(dict)`` (a plain JS object), ``js_body(bytes)``
    (a request body fetch takes), ``read_body(response)`` (awaitable: the body's bytes), and
    ``js_exception`` (the class a rejected promise raises)."""

    __slots__ = ("create_proxy", "js_body", "js_exception", "js_object", "read_body")

    def __init__(
        self,
        create_proxy: Callable[[Callable[..., Any]], Any],
        js_object: Callable[[dict[str, Any]], Any],
        js_body: Callable[[bytes], Any],
        read_body: Callable[[Any], Coroutine[Any, Any, bytes]],
        js_exception: type[BaseException],
    ) -> None:
        self.create_proxy = create_proxy
        self.js_object = js_object
        self.js_body = js_body
        self.read_body = read_body
        self.js_exception = js_exception


def _micropython_body(data: bytes) -> Any:
    """A request body for fetch from MicroPython: text where it is UTF-8 (JSON always is),
    copied into a JS string at once; otherwise (gzip) a ``Uint8Array`` built from the bytes.
    Not the bytes themselves: MicroPython hands JS a proxy that fetch cannot send and that
    keeps the bytes alive (a root) until JS lets go of it."""
    try:
        return data.decode()
    except ValueError:  # UnicodeError: binary
        import js

        return js.Uint8Array.new(data)


async def _micropython_read(response: Any) -> bytes:
    # text(), not arrayBuffer(): a JS string crosses in one copy, a buffer one item at a time.
    text: str = await response.text()
    return text.encode()


async def _pyodide_read(response: Any) -> bytes:
    buffer = await response.arrayBuffer()
    return bytes(buffer.to_bytes())


_bridge: JsBridge | None = None


def js_bridge() -> JsBridge:
    """The JS bridge of this browser interpreter (made once; never called under CPython)."""
    global _bridge
    if _bridge is None:
        import js

        if INTERPRETER == "micropython":
            import jsffi  # type: ignore[import-not-found]

            _bridge = JsBridge(
                jsffi.create_proxy,
                jsffi.to_js,  # a dict already becomes a plain object; no options
                _micropython_body,
                _micropython_read,
                jsffi.JsException,
            )
        else:
            from pyodide.ffi import JsException, create_proxy, to_js

            _bridge = JsBridge(
                create_proxy,
                lambda value: to_js(value, dict_converter=js.Object.fromEntries),
                lambda data: data,  # becomes a Uint8Array on the way
                _pyodide_read,
                JsException,
            )
    return _bridge


class JsCallError(Exception):
    """A JS call threw (``QuotaExceededError``, ``SecurityError``...); ``str()`` is its text."""


_guard: Any = None


def js_call(target: Any, method: str, *args: Any) -> Any:
    """``target[method](*args)`` (at most two arguments), raising :class:`JsCallError` if it
    throws. In MicroPython a JS exception thrown synchronously is not a Python exception: it
    unwinds through Python frames past every ``except`` and ``finally`` and, repeated, exhausts
    the interpreter; so there the call is made by a small JS function that catches."""
    global _guard
    if INTERPRETER != "micropython":
        try:
            return getattr(target, method)(*args)
        except Exception as exc:  # pyodide.ffi.JsException, or a test's fake
            raise JsCallError(str(exc)) from None
    if _guard is None:
        import js

        _guard = js.Function.new(
            "o",
            "m",
            "a",
            "b",
            "try { return [true, o[m](a, b)]; } catch (e) { return [false, String(e)]; }",
        )
    ok, value = _guard(target, method, *args)
    if not ok:
        raise JsCallError(str(value))
    return value


def js_globals() -> Any:
    """The JS global scope (Pyodide's and MicroPython's ``js`` module): the page's ``window``,
    or a worker's ``self``. A browser's Python only."""
    import js

    return js


def pyscript_xworker() -> Any:
    """PyScript's ``xworker`` (the link to the page) in a PyScript worker; None in a bare worker
    or on a page."""
    try:
        from polyscript import xworker  # type: ignore[import-not-found]
    except ImportError:
        return None
    return xworker


def pyscript_sources() -> list[str]:
    """The URLs PyScript's config loads Python from: its ``packages`` and the sources of its
    ``files``, as written or resolved (empty outside PyScript)."""
    try:
        from pyscript import config  # type: ignore[import-not-found]

        settings = dict(config)
        return [str(entry) for entry in settings.get("packages") or []] + [
            str(source) for source in settings.get("files") or {}
        ]
    except Exception:  # not PyScript's worker, or a config of another shape
        return []
