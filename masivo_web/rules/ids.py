"""The ids the SDK mints (events, visitors, channels: random UUID4 strings) and the UTC
timestamps Masivo reads, each made from a cache: random bytes drawn ahead, a second's formatted
text and the milliseconds' suffixes, since a tracking call makes one of each."""

from __future__ import annotations

import os
import time

from ..runtime.host import random_bytes

#: Random bytes drawn ahead (crypto-grade: ``os.urandom``), 16 per id: in Pyodide each
#: ``os.urandom`` call is a trip to ``crypto.getRandomValues`` that costs more than the rest of
#: building the id.
_ID_POOL_BYTES = 16 * 256
_id_pool = b""
_id_offset = _ID_POOL_BYTES


def new_id() -> str:
    """A random UUID4 string (an event's id, a visitor's, a channel's) from crypto-grade bytes
    (:func:`~masivo_web.runtime.host.random_bytes`); not ``uuid``, which costs ~20 ms to import
    in Pyodide and which MicroPython lacks."""
    global _id_pool, _id_offset
    if _id_offset >= _ID_POOL_BYTES:
        _id_pool, _id_offset = random_bytes(_ID_POOL_BYTES), 0
    h = _id_pool[_id_offset : _id_offset + 16].hex()
    _id_offset += 16
    # Version 4 in the 13th digit, the RFC 4122 variant (8, 9, a or b) in the 17th.
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _forget_drawn_bytes() -> None:
    global _id_offset
    _id_offset = _ID_POOL_BYTES


if hasattr(os, "register_at_fork"):  # a forked worker must not reuse its parent's bytes
    os.register_at_fork(after_in_child=_forget_drawn_bytes)
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_second_cache: tuple[int, str] = (-1, "")


def format_timestamp(epoch_seconds: float) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, as Masivo expects: ``2026-11-23T05:01:31.123Z``."""
    global _second_cache
    whole = int(epoch_seconds)
    if _second_cache[0] != whole:  # formatting is the costly part, and bursts share a second
        year, month, day, hour, minute, second = time.gmtime(whole)[:6]
        _second_cache = (
            whole,
            f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}",
        )
    return _second_cache[1] + _MILLIS[int((epoch_seconds - whole) * 1000)]


#: ".000Z" to ".999Z": a lookup instead of formatting the milliseconds on every call. Built by
#: joining digits, which at import costs a third of formatting 1,000 numbers (~0.3 ms in Pyodide).
_DIGITS = "0123456789"
_MILLIS = tuple([f".{a}{b}{c}Z" for a in _DIGITS for b in _DIGITS for c in _DIGITS])
