"""An event as the JSON text that is stored and sent: checked for depth, encoded once, sized.

What an event may contain is :mod:`masivo_web.rules.events`' business; this module turns the checked
dict into compact JSON, refusing what JSON or Masivo cannot carry with a
:class:`MasivoValidationError` that says what to change.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import MasivoValidationError
from ..runtime.interpreter import MAPPINGS, STRICT_JSON

#: Masivo's per-event limit on the batch route (docs/masivo-api.md).
MAX_EVENT_BYTES = 32 * 1024
#: Deepest nesting of dicts/lists accepted in an event (real events nest 2-4 levels).
MAX_NESTING_DEPTH = 32

_NESTED = (list, tuple) + MAPPINGS
_NESTED_TYPES = frozenset({dict, list, tuple})
# Exact types that cannot nest: skipping them avoids a slow ABC isinstance check per value.
# Where json.dumps does not refuse NaN and infinities itself (MicroPython), floats are not
# skipped: the walk checks them, and every other value json cannot carry (STRICT_JSON).
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)} if STRICT_JSON else {str, int, bool})


def check_depth(event: dict[str, Any]) -> None:
    """Refuse nesting deeper than :data:`MAX_NESTING_DEPTH` and non-string keys, walking
    without recursion; where the interpreter's ``json`` writes what JSON cannot carry
    (MicroPython), also raise ``TypeError``/``ValueError`` for it, as CPython's encoder does.

    ``json.dumps`` recurses in C: in Pyodide a deep enough value overflows the WebAssembly stack
    and kills the whole interpreter (a fatal error, not a ``RecursionError``), so the depth is
    checked first. A cycle counts as too deep.
    """
    # Most events are plain values and dicts of plain values: settled without the walk.
    stack: list[tuple[Any, int, str]] = []
    leaves = _LEAF_TYPES
    for name, value in event.items():
        kind = type(value)
        if kind in leaves or value is None:
            continue
        if (
            kind is dict
            and all(type(child) in leaves for child in value.values())
            and all(type(key) is str for key in value)
        ):
            continue
        if kind in _NESTED_TYPES or isinstance(value, _NESTED):
            stack.append((value, 2, name))
        elif not STRICT_JSON:
            _check_leaf(value)
        # (otherwise the encoder refuses what it cannot carry)
    nested = _NESTED_TYPES
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise MasivoValidationError(
                f"The event nests dicts/lists deeper than {MAX_NESTING_DEPTH} levels (or contains "
                "a cycle); flatten it before sending."
            )
        kind = type(value)
        if kind is list or kind is tuple or (kind is not dict and not isinstance(value, MAPPINGS)):
            children = value
        else:
            for key in value:
                if type(key) is not str:
                    # json would turn 1 into "1" silently (a second "1" key beside it).
                    raise MasivoValidationError(
                        f"Event keys must be strings, also inside {field!r}; got {key!r} "
                        f"({type(key).__name__}). Use str(key)."
                    )
            children = value.values()
        for child in children:
            kind = type(child)
            # Exact types first; the slow ABC check only for the rare subclass.
            if kind in nested or (kind not in leaves and isinstance(child, _NESTED)):
                stack.append((child, depth + 1, field))
            elif not STRICT_JSON and kind not in leaves and child is not None:
                _check_leaf(child)


def _check_leaf(value: object) -> None:
    """Raise what CPython's encoder raises for a value JSON cannot carry (for interpreters
    whose ``json.dumps`` writes it anyway)."""
    if isinstance(value, float):
        if value - value != 0:  # inf - inf and nan - nan are nan
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    elif not isinstance(value, (str, int)):  # a subclass of those is written as its base
        _not_json(value)


#: What to do with the values applications most often hand in that JSON cannot carry.
_HINTS = {
    "Decimal": "send float(value), or str(value) to keep every digit",
    "datetime": "send value.isoformat()",
    "date": "send value.isoformat()",
    "time": "send value.isoformat()",
    "UUID": "send str(value)",
    "set": "send list(value)",
    "frozenset": "send list(value)",
    "bytes": "send value.decode() for text, or base64 for binary data",
    "bytearray": "send value.decode() for text, or base64 for binary data",
}


def _not_json(value: object) -> object:
    name = type(value).__name__
    hint = _HINTS.get(name, "send a dict, list, string, number, boolean or None instead")
    raise TypeError(f"a {name} is not JSON: {hint}")


def hint_for(value: object) -> str:
    """What to send instead of ``value``, as a sentence to end an error with ("" if none)."""
    hint = _HINTS.get(type(value).__name__)
    return f" ({hint[0].upper()}{hint[1:]}.)" if hint else ""


if STRICT_JSON:
    #: One encoder for every event: ``json.dumps`` builds a new encoder per call, which costs
    #: more than encoding a small event. Cycles need no tracking here: ``check_depth`` refuses
    #: them first.
    _ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    _c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
    _c_encode = (
        _c_make_encoder(
            None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
        )
        if _c_make_encoder is not None
        else None
    )

    def encode(event: dict[str, Any]) -> str:
        """Compact JSON (no spaces, UTF-8 kept as is); raises what ``json`` raises."""
        if _c_encode is None:
            return _ENCODER.encode(event)
        return "".join(_c_encode(event, 0))

else:

    def encode(event: dict[str, Any]) -> str:
        """Compact JSON (no spaces, UTF-8 kept as is): MicroPython's ``json.dumps`` (its only
        option is ``separators``; it writes non-ASCII as is). It writes ``nan``, sets or
        objects without complaint: :func:`check_depth` refuses those first."""
        return json.dumps(event, separators=(",", ":"))


#: The last context spliced in, and its size in UTF-8 bytes: a client's context is one string
#: reused by its events until the page changes (MicroPython pays for each byte it allocates).
_context_size: tuple[str | None, int] = (None, 0)


def serialise(event: dict[str, Any], context_json: str | None = None) -> tuple[str, int]:
    """The event as JSON text and its size in UTF-8 bytes; ``context_json`` (already JSON, an
    object) is added as its ``context`` field without being parsed or encoded again."""
    global _context_size
    try:
        check_depth(event)
        text = encode(event)
        size = len(text.encode("utf-8"))
        if context_json is not None:
            if _context_size[0] is not context_json:
                _context_size = (context_json, len(context_json.encode("utf-8")))
            text = "".join((text[:-1], ',"context":', context_json, "}"))
            size += _context_size[1] + 11  # ',"context":' and the brace moved after it
    except (TypeError, ValueError) as exc:
        # TypeError: bytes, sets, objects; ValueError: NaN/inf, a cycle, or a lone surrogate
        # that UTF-8 cannot carry. (Nesting too deep for the interpreter: check_depth.)
        raise MasivoValidationError(
            f"The event cannot be sent as JSON ({exc}). Use only dicts, lists, strings, finite "
            "numbers, booleans and None."
        ) from None
    if size > MAX_EVENT_BYTES:
        name, largest = _largest_field(event)
        raise MasivoValidationError(
            f"The event is {size} bytes as JSON; Masivo accepts at most {MAX_EVENT_BYTES}. "
            f"Its largest field is {name!r} ({largest} bytes): send less there."
        )
    return text, size


def _largest_field(event: dict[str, Any]) -> tuple[str, int]:
    """The top-level field that takes the most bytes (only asked for an event too large)."""
    sizes = {name: len(encode({name: value}).encode("utf-8")) for name, value in event.items()}
    name = max(sizes, key=lambda key: sizes[key])
    return name, sizes[name]
