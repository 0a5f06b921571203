"""Which Python this is (CPython, Pyodide or MicroPython), and what follows from it: the one
place that looks. Everything else in the SDK asks this module (or the rest of
:mod:`masivo_web.runtime`, which builds on it); what differs between the interpreters is written
down in ``docs/runtimes.md``.
"""

from __future__ import annotations

import sys
from typing import Any

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


def in_worker() -> bool:
    """Whether this browser's Python runs in a Web Worker (PyScript's ``worker`` attribute): a
    worker global scope and no ``window``. (Node, where the unit tests run, has neither.)"""
    if not IS_BROWSER:
        return False
    import js

    return getattr(js, "window", None) is None and hasattr(js, "WorkerGlobalScope")
