"""What the emulated Masivo checks in one event, written apart from the SDK's own checks so a
mistake in one is caught by the other. Returns an error (status, error, details) or None."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

RESERVED_TYPES = frozenset(
    {"PURCHASE", "ABANDONED_CART", "BIRTHDAY", "REGISTRATION", "TIER_ADJUSTMENT"}
)
MAX_EVENT_BYTES = 32 * 1024
MAX_AGE = timedelta(hours=72)
FUTURE_SKEW = timedelta(minutes=5)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Problem = tuple[int, str, str]
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_event(event: dict[str, Any]) -> str:
    """The compact JSON text of ``event``: what its size is measured on and what is stored."""
    return _ENCODER.encode(event)


def check_event(
    event: Any, *, key_kind: str, now: datetime | None = None, text: str | None = None
) -> Problem | None:
    """None when Masivo would accept ``event`` from a key of ``key_kind``. ``now`` (aware) is
    read once per batch by the caller; ``text`` is ``encode_event(event)`` if already made."""
    if not isinstance(event, dict):
        return 422, "Invalid event", "each event must be a JSON object"
    for name in ("type", "customer_id"):
        value = event.get(name)
        if not isinstance(value, str) or not value:
            return 422, "Invalid event", f"'{name}' is required and must be a non-empty string"
    if "brand_id" not in event:
        return 422, "Invalid event", "'brand_id' is required (null when not applicable)"
    if event["brand_id"] is not None and not isinstance(event["brand_id"], str):
        return 422, "Invalid event", "'brand_id' must be a string or null"
    if event["type"].upper() in RESERVED_TYPES and key_kind != "server":
        return (
            403,
            "Forbidden event type",
            f"'{event['type']}' can only be sent with a SERVER key",
        )
    for name in ("platform", "referral_code"):
        if event.get(name) is not None and not isinstance(event[name], str):
            return 422, "Invalid event", f"'{name}' must be a string"
    for name in ("order", "metadata"):
        if event.get(name) is not None and not isinstance(event[name], dict):
            return 422, "Invalid event", f"'{name}' must be an object"
    problem = _check_product(event.get("product"))
    if problem is not None:
        return problem
    event_id = event.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not _UUID.match(event_id)):
        return 422, "Invalid event", "'event_id' must be a UUID string"
    problem = _check_issued_at(event.get("issued_at"), now or datetime.now(UTC))
    if problem is not None:
        return problem
    size = len((encode_event(event) if text is None else text).encode())
    if size > MAX_EVENT_BYTES:
        return 413, "Event too large", f"{size} bytes; the limit is {MAX_EVENT_BYTES}"
    return None


def _check_product(product: Any) -> Problem | None:
    if product is None:
        return None
    if not isinstance(product, dict):
        return 422, "Invalid event", "'product' must be an object"
    if product.get("sku") is not None and not isinstance(product["sku"], str):
        return 422, "Invalid event", "'product.sku' must be a string"
    for name in ("amount", "value", "discounted_value"):
        value = product.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return 422, "Invalid event", f"'product.{name}' must be a number"
    tags = product.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return 422, "Invalid event", "'product.tags' must be a list of strings"
    return None


def _check_issued_at(value: Any, now: datetime) -> Problem | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return 422, "Invalid event", "'issued_at' must be an ISO-8601 string"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return 422, "Invalid event", f"'issued_at' is not ISO-8601: {value!r}"
    if moment.tzinfo is None:
        return 422, "Invalid event", "'issued_at' must carry a timezone"
    if moment > now + FUTURE_SKEW:
        return 422, "Invalid event", "'issued_at' is in the future"
    if moment < now - MAX_AGE:
        return 422, "Invalid event", "'issued_at' is older than 72 hours"
    return None
