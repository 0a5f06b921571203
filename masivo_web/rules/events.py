"""Validate and normalise one event, synchronously, before it is queued.

Everything that can be wrong with an event is found here, at the call, so the caller gets a
:class:`MasivoValidationError` with a hint and the queue never holds an event the SDK itself
could have known was bad. The event is serialised once, here (by :mod:`masivo_web.rules.encoding`):
the queue, the batch body and the unload path all reuse that JSON text, and later changes to
the caller's dict cannot leak in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .._record import Record
from ..errors import MasivoValidationError, short_repr
from ..runtime.interpreter import MAPPINGS
from .encoding import MAX_EVENT_BYTES, MAX_NESTING_DEPTH, hint_for, serialise
from .fields import CHECKED_FIELDS, check_field
from .ids import format_timestamp, new_id
from .issued_at import CLOCK_SKEW_ALLOWANCE, MAX_EVENT_AGE, checked_issued_at

__all__ = [
    "CLOCK_SKEW_ALLOWANCE",
    "MAX_EVENT_AGE",
    "MAX_EVENT_BYTES",
    "MAX_NESTING_DEPTH",
    "RESERVED_EVENT_TYPES",
    "PreparedEvent",
    "prepare_event",
]

#: The longest event type accepted (masivo_web decides: Masivo documents no limit; a type is a
#: name such as ``ADD_TO_CART``, and an account holds at most 50 custom ones).
MAX_TYPE_LENGTH = 128
#: Types only a SERVER key may emit; the browser SDK refuses them before they are queued.
RESERVED_EVENT_TYPES = frozenset(
    {"PURCHASE", "ABANDONED_CART", "BIRTHDAY", "REGISTRATION", "TIER_ADJUSTMENT"}
)


class PreparedEvent(Record):
    """An event that passed validation: its id, type and the JSON text that will be sent, and
    ``size``, the bytes it takes in a request body (UTF-8).

    ``provisional`` is the device's epoch second its ``issued_at`` was stamped with when the
    service's time was not known yet (None: the stamp is final): the outbox stamps it again,
    from its age, once the service's time is known (:meth:`restamp`)."""

    __slots__ = ("event_id", "json", "provisional", "size", "type")

    def __init__(
        self, event_id: str, type: str, json: str, size: int, provisional: float | None = None
    ) -> None:
        self.event_id = event_id
        self.type = type
        self.json = json
        self.size = size
        self.provisional = provisional

    def restamp(self, issued_epoch: float) -> None:
        """Replace the provisional ``issued_at`` with ``issued_epoch`` (same width: the size
        does not change), and make it final."""
        if self.provisional is not None:
            old = f'"issued_at":"{format_timestamp(self.provisional)}"'
            new = f'"issued_at":"{format_timestamp(issued_epoch)}"'
            self.json = self.json.replace(old, new, 1)
            self.provisional = None

    def stamped_with(self, epoch: float) -> bool:
        """Whether its ``issued_at`` is ``epoch`` to the millisecond (a stored event whose
        stamp was the device's time)."""
        return f'"issued_at":"{format_timestamp(epoch)}"' in self.json


def prepare_event(
    event: Mapping[str, Any] | None,
    *,
    default_brand_id: str | None,
    now_epoch: float,
    context_json: str | None = None,
    provisional: bool = False,
) -> PreparedEvent:
    """Merge, check and serialise one event, or raise :class:`MasivoValidationError`.

    ``event`` is copied, never changed. Adds ``event_id`` and ``issued_at``
    when missing, and ``brand_id`` from the client default when the event has a ``platform`` but
    no ``brand_id`` (the @masivo/core rule). ``context_json``, the SDK's own context already as
    JSON text, is added as ``context`` unless the event has one: it is neither re-checked nor
    re-serialised on every call.

    ``now_epoch`` is the service's time now; ``provisional`` says it is only the device's (the
    service's is not known yet): the stamp is then marked provisional, and an ``issued_at``
    given is checked for its format only, not against a clock that may be wrong.
    """
    if event is not None and type(event) is not dict and not isinstance(event, MAPPINGS):
        raise MasivoValidationError(
            f"The event must be a dict, not {type(event).__name__}: "
            "send_analytics_event({'type': 'ADD_TO_CART', 'customer_id': ..., 'brand_id': None})"
        )
    merged: dict[str, Any] = dict(event) if event else {}
    event_type = merged.get("type")
    if type(event_type) is not str or event_type not in _known_good_types:  # once per type
        _check_type(event_type)
        if len(_known_good_types) < 1000:
            _known_good_types.add(event_type)
    customer_id = merged.get("customer_id")
    if type(customer_id) is not str or not customer_id:
        _check_customer_id(customer_id)
    if "brand_id" not in merged or (
        merged["brand_id"] is not None and type(merged["brand_id"]) is not str
    ):
        _apply_brand(merged, default_brand_id)
    for key, value in merged.items():
        if type(key) is not str and not isinstance(key, str):
            raise MasivoValidationError(f"Event keys must be strings; got {short_repr(key)}.")
        if value is not None and key in CHECKED_FIELDS:
            check_field(key, value)

    event_id = merged.get("event_id")
    if event_id is None:
        merged["event_id"] = event_id = new_id()
    elif not _looks_like_uuid(event_id):
        raise MasivoValidationError(
            "event_id must be a UUID string (it names the event on every retry); got "
            f"{short_repr(event_id)}. "
            "Leave it out and the SDK makes one."
        )
    stamped: float | None = None
    if merged.get("issued_at") is None:
        merged["issued_at"] = format_timestamp(now_epoch)
        if provisional:
            stamped = now_epoch
    else:
        now = None if provisional else datetime.fromtimestamp(now_epoch, timezone.utc)
        merged["issued_at"] = checked_issued_at(merged["issued_at"], now)

    if context_json is not None and "context" not in merged:
        text, size = serialise(merged, context_json)
    else:
        text, size = serialise(merged)
    return PreparedEvent(event_id, str(event_type), text, size, stamped)


def _check_type(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MasivoValidationError(
            f"Every event needs a 'type' string such as 'ADD_TO_CART'; got {short_repr(value)}."
        )
    if value != value.strip():
        raise MasivoValidationError(
            f"Event type {short_repr(value)} has leading or trailing spaces; Masivo matches "
            "names exactly."
        )
    if len(value) > MAX_TYPE_LENGTH:
        raise MasivoValidationError(
            f"Event type {short_repr(value)} is {len(value)} characters; a type is a name such "
            f"as 'ADD_TO_CART', of at most {MAX_TYPE_LENGTH} characters."
        )
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise MasivoValidationError(
            f"Event type {short_repr(value)} holds a control character (a newline?); a type is "
            "a name such as 'ADD_TO_CART'."
        )
    # Compared case-insensitively: a reserved type must never leave the browser in any spelling.
    if value.upper() in RESERVED_EVENT_TYPES:
        raise MasivoValidationError(
            f"{short_repr(value)} is a reserved event type that only a SERVER key may send. "
            "Send it from your backend with a SERVER key through the Masivo REST API "
            "(POST /api/storefront/v1/behavior/events), never from the browser.",
            status=403,
        )
    return value


def _check_customer_id(value: object) -> None:
    if not isinstance(value, str) or not value:
        hint = f" Use str({short_repr(value)})." if isinstance(value, int) else hint_for(value)
        raise MasivoValidationError(
            "Every event needs 'customer_id': the customer's id in your own system, as a "
            f"non-empty string; got {short_repr(value)}.{hint}"
        )


def _apply_brand(event: dict[str, Any], default_brand_id: str | None) -> None:
    if "brand_id" not in event:
        if default_brand_id is not None and event.get("platform") is not None:
            event["brand_id"] = default_brand_id
        elif default_brand_id is not None:
            raise MasivoValidationError(
                "Every event needs 'brand_id' (Masivo requires the key). The client's brand_id "
                f"({default_brand_id!r}) is filled in only for events with a 'platform' (as "
                "@masivo/core does): pass brand_id=... (or None) or platform=... with this event."
            )
        else:
            raise MasivoValidationError(
                "Every event needs 'brand_id' (Masivo requires the key): pass the brand's id, "
                "or brand_id=None when brands do not apply."
            )
    brand = event["brand_id"]
    if brand is not None and not isinstance(brand, str):
        raise MasivoValidationError(
            f"'brand_id' must be a string or None; got {short_repr(brand)}."
        )


#: Event types already checked (a type is checked once, not at every call).
_known_good_types: set[object] = set()


def _looks_like_uuid(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    parts = value.split("-")
    if [len(part) for part in parts] != [8, 4, 4, 4, 12]:
        return False
    try:
        int("".join(parts), 16)
    except ValueError:
        return False
    return True


def as_dict(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, MAPPINGS):
        raise MasivoValidationError(f"{name} must be a dict (or None); got {type(value).__name__}.")
    return dict(value)
