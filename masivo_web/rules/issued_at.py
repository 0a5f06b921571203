"""An event's ``issued_at`` given by the caller: its form, and the window Masivo accepts."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import MasivoValidationError, short_repr
from .ids import format_timestamp

#: Masivo accepts ``issued_at`` from the last 72 hours only.
MAX_EVENT_AGE = timedelta(hours=72)
#: Client clocks drift: a timestamp this far "in the future" is still accepted (as by the emulator).
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)


def checked_issued_at(value: object, now: datetime | None) -> str:
    """The ``issued_at`` given, checked and in Masivo's form; checked against the service's
    time ``now`` when it is known."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            # "Z" spelled out: MicroPython's fromisoformat refuses the suffix.
            moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "zZ" else value)
        except ValueError:
            raise MasivoValidationError(
                "'issued_at' must be ISO-8601 such as '2026-11-23T05:01:31.000Z'; got "
                f"{short_repr(value)}."
            ) from None
    else:
        raise MasivoValidationError(
            "'issued_at' must be a timezone-aware datetime or an ISO-8601 string; got "
            f"{short_repr(value)}."
        )
    if moment.tzinfo is None:
        raise MasivoValidationError(
            f"'issued_at' {short_repr(value)} has no timezone; give one (e.g. '...Z' or "
            "tzinfo=UTC) so the moment is unambiguous."
        )
    if now is None:
        return format_timestamp(moment.timestamp())
    if moment > now + CLOCK_SKEW_ALLOWANCE:
        raise MasivoValidationError(
            f"'issued_at' {short_repr(value)} is in the future; Masivo rejects it."
        )
    if moment < now - MAX_EVENT_AGE:
        raise MasivoValidationError(
            f"'issued_at' {short_repr(value)} is older than 72 hours; Masivo only accepts recent "
            "events."
        )
    return format_timestamp(moment.timestamp())
