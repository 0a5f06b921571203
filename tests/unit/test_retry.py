"""The retry policy, table-tested: which statuses retry, backoff with jitter, Retry-After."""

from __future__ import annotations

import pytest

from masivo_web.rules.policy import DeliveryPolicy
from masivo_web.rules.retry import backoff_delay, is_retryable_status, parse_retry_after

BACKOFF_CAP_S = DeliveryPolicy().backoff_cap_s
RETRY_AFTER_CAP_S = DeliveryPolicy().retry_after_cap_s


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (413, False),
        (422, False),
        (429, True),
        (500, True),
        (501, False),
        (502, True),
        (503, True),
        (504, True),
        (505, False),
        (599, True),
    ],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("attempt", "random", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 1.0, 1.0),
        (2, 0.0, 1.0),
        (3, 1.0, 4.0),
        (7, 1.0, BACKOFF_CAP_S),
        (30, 0.0, BACKOFF_CAP_S / 2),
    ],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(
    attempt: int, random: float, expected: float
) -> None:
    assert backoff_delay(attempt, random=lambda: random) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(0.1, 0.5), (20.0, 20.0), (10_000.0, RETRY_AFTER_CAP_S)],
)
def test_retry_after_is_a_capped_floor(retry_after: float, expected: float) -> None:
    assert backoff_delay(1, retry_after_s=retry_after, random=lambda: 0.0) == expected


def test_a_policy_sets_the_backoff_numbers() -> None:
    quick = DeliveryPolicy(backoff_base_s=0.01, backoff_cap_s=0.05, retry_after_cap_s=1.0)
    assert backoff_delay(1, random=lambda: 1.0, policy=quick) == pytest.approx(0.01)
    assert backoff_delay(9, random=lambda: 1.0, policy=quick) == pytest.approx(0.05)
    assert backoff_delay(1, retry_after_s=60, random=lambda: 0.0, policy=quick) == 1.0


NOW = 1_795_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("7", 7.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 18 Nov 2026 11:06:50 GMT", 10.0),  # NOW + 10 s
        ("Wed, 18 Nov 2026 11:06:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now_epoch=NOW) == expected
