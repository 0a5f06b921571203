"""What the process or page offers the SDK beyond the loop: a log handler, the environment,
ordered dicts, random bytes, gzip, the host's locale, fork and exit hooks. ``js`` is reached
lazily, in a browser only, so importing this under CPython touches no browser API."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .interpreter import INTERPRETER, IS_BROWSER

if TYPE_CHECKING:
    from collections.abc import Mapping


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
