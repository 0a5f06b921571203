"""The settings of one client, checked once in ``create_client``; messages say what to do."""

from __future__ import annotations

import math
from typing import Literal

from ._record import Record
from .errors import MasivoConfigError, short_repr

EventRoute = Literal["analytics", "behavior"]
#: How request bodies are encoded: None (plain JSON) or "gzip" (``Content-Encoding: gzip``).
Compression = Literal["gzip"] | None


class Settings(Record):
    """Validated client settings. The API key is kept out of ``repr`` so it never reaches a log."""

    __slots__ = (
        "api_base",
        "api_key",
        "auth_url",
        "batch_size",
        "brand_id",
        "compression",
        "context",
        "enabled",
        "event_route",
        "identify_event_type",
        "idle_flush_s",
        "max_wait_s",
        "page_event_type",
        "timeout_s",
    )
    _hidden = frozenset({"api_key"})

    def __init__(
        self,
        api_key: str,
        brand_id: str | None,
        auth_url: str,
        api_base: str,
        batch_size: int,
        idle_flush_s: float,
        max_wait_s: float,
        timeout_s: float,
        event_route: EventRoute,
        context: bool = True,
        enabled: bool = True,
        page_event_type: str = "PAGE_VIEW",
        identify_event_type: str = "IDENTIFY",
        compression: Compression = None,
    ) -> None:
        self.api_key = api_key
        self.brand_id = brand_id
        self.auth_url = auth_url
        self.api_base = api_base
        self.batch_size = batch_size
        self.idle_flush_s = idle_flush_s
        self.max_wait_s = max_wait_s
        self.timeout_s = timeout_s
        self.event_route = event_route
        self.context = context
        self.enabled = enabled
        self.page_event_type = page_event_type
        self.identify_event_type = identify_event_type
        self.compression = compression


def check_settings(
    *,
    api_key: object,
    brand_id: object,
    auth_url: object,
    api_base: object,
    batch_size: object,
    idle_flush_s: object,
    max_wait_s: object,
    timeout_s: object,
    event_route: object,
    context: object = True,
    enabled: object = True,
    page_event_type: object = "PAGE_VIEW",
    identify_event_type: object = "IDENTIFY",
    compression: object = None,
) -> Settings:
    """Return :class:`Settings` or raise :class:`MasivoConfigError` for the first bad argument."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise MasivoConfigError(
            "create_client() needs your Masivo CLIENT API key as a non-empty string "
            "(Masivo dashboard → API keys)."
        )
    if api_key != api_key.strip():
        raise MasivoConfigError(
            "The API key has leading or trailing whitespace; copy it again without spaces."
        )
    if brand_id is not None and (not isinstance(brand_id, str) or not brand_id):
        raise MasivoConfigError(
            f"brand_id must be a non-empty string or None; got {short_repr(brand_id)}."
        )
    if (
        not isinstance(batch_size, int)
        or isinstance(batch_size, bool)
        or not 1 <= batch_size <= 100
    ):
        raise MasivoConfigError(
            "batch_size must be an integer from 1 to 100 (Masivo's batch limit); "
            f"got {short_repr(batch_size)}."
        )
    if event_route not in ("analytics", "behavior"):
        raise MasivoConfigError(
            f"event_route must be 'analytics' (batched, the default) or 'behavior' (one event "
            f"per request); got {short_repr(event_route)}."
        )
    for name, flag in (("context", context), ("enabled", enabled)):
        if not isinstance(flag, bool):
            raise MasivoConfigError(f"{name} must be True or False; got {short_repr(flag)}.")
    for name, event_type in (
        ("page_event_type", page_event_type),
        ("identify_event_type", identify_event_type),
    ):
        if not isinstance(event_type, str) or not event_type.strip():
            raise MasivoConfigError(
                f"{name} must be an event type name; got {short_repr(event_type)}."
            )
    if compression not in (None, "gzip"):
        raise MasivoConfigError(
            "compression must be None (plain JSON, the default) or 'gzip' (only where the "
            f"server accepts Content-Encoding: gzip); got {short_repr(compression)}."
        )
    return Settings(
        api_key=api_key,
        brand_id=brand_id,
        auth_url=_check_url("auth_url", auth_url),
        api_base=_check_url("api_base", api_base).rstrip("/"),
        batch_size=batch_size,
        idle_flush_s=_check_seconds("idle_flush_s", idle_flush_s),
        max_wait_s=_check_seconds("max_wait_s", max_wait_s),
        timeout_s=_check_seconds("timeout_s", timeout_s),
        event_route=event_route,
        context=bool(context),
        enabled=bool(enabled),
        page_event_type=str(page_event_type),
        identify_event_type=str(identify_event_type),
        compression="gzip" if compression == "gzip" else None,
    )


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


def _check_seconds(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise MasivoConfigError(
            f"{name} must be a positive number of seconds; got {short_repr(value)}."
        )
    return float(value)
