"""The settings of one client, checked once in ``create_client``; messages say what to do.

``auth_url`` and ``api_base`` default to the ``MASIVO_AUTH_URL`` and ``MASIVO_API_BASE``
environment variables when set (so a script can be pointed at a local emulator without editing
it), else to Masivo's production URLs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from ..errors import MasivoConfigError, short_repr
from ..runtime.host import ENVIRON
from .api import DEFAULT_API_BASE, DEFAULT_AUTH_URL

EventRoute = Literal["analytics", "behavior"]
#: How request bodies are encoded: None (plain JSON) or "gzip" (``Content-Encoding: gzip``).
Compression = Literal["gzip"] | None


class Option:
    """One client option: its check, which returns the value to keep or raises
    :class:`MasivoConfigError` saying what to pass instead."""

    __slots__ = ("check", "order")
    _made = 0

    def __init__(self, check: Callable[[str, Any], Any]) -> None:
        self.check = check
        # The order of the Settings lines (MicroPython's class dicts do not keep it).
        Option._made += 1
        self.order = Option._made


def option(check: Callable[[str, Any], Any]) -> Any:
    """A :class:`Settings` line: typed ``Any`` so the line's annotation is the option's type."""
    return Option(check)


def _api_key(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MasivoConfigError(
            "create_client() needs your Masivo CLIENT API key as a non-empty string "
            "(Masivo dashboard → API keys)."
        )
    if value != value.strip():
        raise MasivoConfigError(
            "The API key has leading or trailing whitespace; copy it again without spaces."
        )
    return value


def _brand_id(name: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise MasivoConfigError(
            f"brand_id must be a non-empty string or None; got {short_repr(value)}."
        )
    return value


def _url_or(variable: str, default: str) -> Callable[[str, Any], str]:
    def check(name: str, value: object) -> str:
        if value is None:
            value = ENVIRON.get(variable) or default
            name = f"{name} (from {variable})" if variable in ENVIRON else name
        return _check_url(name, value)

    return check


def _api_base(name: str, value: object) -> str:
    return _url_or("MASIVO_API_BASE", DEFAULT_API_BASE)(name, value).rstrip("/")


def _batch_size(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise MasivoConfigError(
            "batch_size must be an integer from 1 to 100 (Masivo's batch limit); "
            f"got {short_repr(value)}."
        )
    return value


def _event_route(name: str, value: object) -> EventRoute:
    if value not in ("analytics", "behavior"):
        raise MasivoConfigError(
            f"event_route must be 'analytics' (batched, the default) or 'behavior' (one event "
            f"per request); got {short_repr(value)}."
        )
    return "behavior" if value == "behavior" else "analytics"


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise MasivoConfigError(f"{name} must be True or False; got {short_repr(value)}.")
    return value


def _event_type(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MasivoConfigError(f"{name} must be an event type name; got {short_repr(value)}.")
    return value


def _compression(name: str, value: object) -> Compression:
    if value not in (None, "gzip"):
        raise MasivoConfigError(
            "compression must be None (plain JSON, the default) or 'gzip' (only where the "
            f"server accepts Content-Encoding: gzip); got {short_repr(value)}."
        )
    return "gzip" if value == "gzip" else None


def _check_url(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise MasivoConfigError(f"{name} must be a URL string; got {short_repr(value)}.")
    # Checked by hand: urllib.parse costs more to import in Pyodide than the rest of the SDK.
    scheme, sep, rest = value.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if scheme.lower() not in ("http", "https") or not sep or not host or " " in value:
        raise MasivoConfigError(
            f"{name} must be an absolute http(s) URL such as 'https://app.masivo.ai/...'; "
            f"got {short_repr(value)}."
        )
    return value


def _seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise MasivoConfigError(
            f"{name} must be a positive number of seconds; got {short_repr(value)}."
        )
    return float(value)


class Settings:
    """Validated client settings, one line per option: its type and its check (adding an
    option: a line here, a parameter of ``create_client``, and the code that uses it). The
    API key is kept out of ``repr`` so it never reaches a log."""

    api_key: str = option(_api_key)
    brand_id: str | None = option(_brand_id)
    auth_url: str = option(_url_or("MASIVO_AUTH_URL", DEFAULT_AUTH_URL))
    api_base: str = option(_api_base)
    batch_size: int = option(_batch_size)
    idle_flush_s: float = option(_seconds)
    max_wait_s: float = option(_seconds)
    timeout_s: float = option(_seconds)
    event_route: EventRoute = option(_event_route)
    context: bool = option(_flag)
    enabled: bool = option(_flag)
    page_event_type: str = option(_event_type)
    identify_event_type: str = option(_event_type)
    compression: Compression = option(_compression)
    query_strings: bool = option(_flag)

    def __init__(self, **values: Any) -> None:
        """Checks each option (the first bad one raises) and keeps the checked values."""
        unknown = set(values) - set(OPTION_NAMES)
        if unknown:
            raise MasivoConfigError(f"Unknown client option(s): {', '.join(sorted(unknown))}.")
        for name in OPTION_NAMES:
            option: Option = type(self).__dict__[name]
            setattr(self, name, option.check(name, values.get(name)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in OPTION_NAMES)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in OPTION_NAMES if name != "api_key"
        )
        return f"Settings({shown})"


#: Every client setting, in order.
OPTION_NAMES = tuple(
    sorted(
        (name for name, value in Settings.__dict__.items() if isinstance(value, Option)),
        key=lambda name: Settings.__dict__[name].order,
    )
)
