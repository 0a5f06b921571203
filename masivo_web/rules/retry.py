"""What an answer means for each event (:class:`Outcome`), when to try again, and how long to
wait: pure functions, table-tested.

The policy follows what the peers that lose the fewest events do (Segment, PostHog, Amplitude):
retry network errors, 408, 429 and 5xx except 501/505; never retry other 4xx; exponential
backoff with jitter and one cap; ``Retry-After`` as a floor under the backoff (posthog-python),
itself capped so a hostile header cannot park events for days (Segment caps at 300 s). The
numbers are a :class:`~masivo_web.rules.policy.DeliveryPolicy`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from .._record import Record
from ..errors import MasivoError
from .policy import DeliveryPolicy


class Outcome(Record):
    """What happened to one event of a request: ``delivered`` (``data`` is the server's answer
    for it), ``rejected`` or ``retry`` (``error`` is the error to report), or ``split``: its
    batch was too large for the service (413), so it goes again in a smaller one."""

    __slots__ = ("data", "error", "kind", "retry_after_s", "status")

    def __init__(
        self,
        kind: Literal["delivered", "rejected", "retry", "split"],
        status: int,
        data: Any = None,
        error: MasivoError | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.data = data
        self.error = error
        self.retry_after_s = retry_after_s


#: The defaults, for callers that do not pass a policy.
DEFAULT_POLICY = DeliveryPolicy()

# 501 Not Implemented and 505 HTTP Version Not Supported will not change on retry.
_NEVER_RETRIED_5XX = frozenset({501, 505})


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP status means "try the same request again later"."""
    if status in (408, 429):
        return True
    return 500 <= status <= 599 and status not in _NEVER_RETRIED_5XX


def backoff_delay(
    attempt: int,
    *,
    retry_after_s: float | None = None,
    random: Callable[[], float],
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> float:
    """Seconds to wait before try number ``attempt + 1`` after ``attempt`` failed tries.

    Exponential from ``policy.backoff_base_s``, capped at ``policy.backoff_cap_s``, with "equal
    jitter" (a random value in the upper half) so many tabs do not retry in step. A server's
    ``Retry-After`` is a floor, capped at ``policy.retry_after_cap_s``.
    """
    exponential = min(policy.backoff_cap_s, policy.backoff_base_s * 2.0 ** max(0, attempt - 1))
    delay = exponential * (0.5 + random() / 2)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, policy.retry_after_cap_s))
    return delay


def parse_retry_after(value: str | None, *, now_epoch: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` if absent
    or unreadable (the backoff alone then applies)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable
    moment = http_date(text)
    return None if moment is None else max(0.0, moment - now_epoch)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def http_date(text: str) -> float | None:
    """An HTTP date as seconds since the epoch, or None: the IMF-fixdate ``Sun, 06 Nov 1994
    08:49:37 GMT`` HTTP requires, and the obsolete forms it still asks readers to accept
    (``Sunday, 06-Nov-94 08:49:37 GMT``, ``Sun Nov  6 08:49:37 1994``); a zone may be GMT, UTC
    or an offset such as ``+0200``. (``email.utils``, which MicroPython lacks, read it before.)
    """
    words = text.replace(",", " ").split()
    if words and words[0][:3].lower() in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        words = words[1:]  # the weekday says nothing the date does not
    if words and words[0].count("-") == 2:  # 06-Nov-94
        words = words[0].split("-") + words[1:]
    try:
        if len(words) >= 4 and words[0].isdigit():  # day month year clock [zone]
            day, month, year, clock = words[:4]
            zone = words[4] if len(words) > 4 else "GMT"
            if len(words) > 5:
                return None
        elif len(words) == 4:  # month day clock year (asctime)
            month, day, clock, year = words
            zone = "GMT"
        else:
            return None
        month_number = _MONTHS.index(month[:3].lower()) + 1
        hour, minute, second = (int(part) for part in clock.split(":"))
        whole_year = int(year)
        if len(year) <= 2:  # as email.utils reads two-digit years
            whole_year += 2000 if whole_year <= 68 else 1900
        offset = 0
        if zone.upper() not in ("GMT", "UTC", "UT", "Z"):
            if len(zone) != 5 or zone[0] not in "+-":
                return None
            offset = (int(zone[1:3]) * 60 + int(zone[3:])) * (60 if zone[0] == "+" else -60)
        days = _days_from_civil(whole_year, month_number, int(day))
    except ValueError:  # a part that is not a number, or an unknown month
        return None
    if not (0 <= hour < 24 and 0 <= minute < 60 and 0 <= second <= 60):
        return None
    return float(days * 86400 + hour * 3600 + minute * 60 + second - offset)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given (proleptic Gregorian) date (Howard Hinnant's)."""
    if not 1 <= day <= 31:
        raise ValueError(day)
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def final_error(outcome: Outcome, max_attempts: int) -> MasivoError:
    """The error that ends an event: a rejection as it came, or, after the last attempt, the
    last error saying so, with everything support needs (status, code, details, request id)
    and the last error as its cause."""
    error = outcome.error
    assert error is not None
    if outcome.kind != "retry":
        return error
    final = type(error)(
        f"{error.message} Gave up after {max_attempts} attempts.",
        status=error.status,
        details=error.details,
        code=error.code,
        request_id=error.request_id,
    )
    final.__cause__ = error
    return final


def log_retry(count: int, reason: object, delay: float, attempt: int, max_attempts: int) -> None:
    """Say that ``count`` events are tried again in ``delay`` seconds, and why: a warning at
    the 1st, 2nd, 4th and 8th retry (a wrong URL must not mean minutes of silence, and an
    outage stays visible as it lasts), info otherwise (a flaky network does not flood the
    log)."""
    logging.getLogger("masivo_web").log(
        logging.WARNING if attempt & (attempt - 1) == 0 else logging.INFO,
        "masivo_web: %d event(s) not delivered yet (%s); next try in %.3g s (attempt %d of %d)",
        count,
        reason,
        delay,
        attempt + 1,
        max_attempts,
    )
