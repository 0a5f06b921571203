"""When to try again, and how long to wait: pure functions, table-tested.

The policy follows what the peers that lose the fewest events do (Segment, PostHog, Amplitude):
retry network errors, 408, 429 and 5xx except 501/505; never retry other 4xx; exponential
backoff with jitter and one cap; ``Retry-After`` as a floor under the backoff (posthog-python),
itself capped so a hostile header cannot park events for days (Segment caps at 300 s). The
numbers are a :class:`~masivo_web.policy.DeliveryPolicy`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import MasivoError
from .policy import DeliveryPolicy

if TYPE_CHECKING:
    from .api import Outcome

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
    from email.utils import parsedate_to_datetime  # rare (an HTTP date): not at import

    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now_epoch)


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
    """Say that ``count`` events are tried again in ``delay`` seconds, and why. The first retry
    is a warning (a wrong URL must not mean minutes of silence); later ones are info, so a
    flaky network does not flood the log."""
    logging.getLogger("masivo_web").log(
        logging.WARNING if attempt == 1 else logging.INFO,
        "masivo_web: %d event(s) not delivered yet (%s); next try in %.3g s (attempt %d of %d)",
        count,
        reason,
        delay,
        attempt + 1,
        max_attempts,
    )
