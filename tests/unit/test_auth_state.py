"""Token state without I/O: reading exp, usability, and when to refresh."""

from __future__ import annotations

import pytest

from masivo_web.rules.token_state import TokenState, read_token_expiry
from tests.fakes import make_token


def test_reads_exp_from_a_jwt() -> None:
    assert read_token_expiry(make_token(1_800_000_000)) == 1_800_000_000.0


@pytest.mark.parametrize(
    "token",
    ["opaque", "a.b", "a.!!!.c", make_token(None), make_token("soon"), make_token(True)],  # type: ignore[arg-type]
)
def test_tokens_without_a_readable_exp_are_opaque(token: str) -> None:
    assert read_token_expiry(token) is None


@pytest.mark.parametrize(
    ("lifetime", "due"),
    [
        (3600.0, 300.0),  # long-lived: every 5 minutes
        (400.0, 100.0),  # 5 minutes before exp comes first
        (320.0, 160.0),  # too short for a 5-minute margin: half its life
        (None, 300.0),  # no exp: every 5 minutes
    ],
)
def test_refresh_every_5_minutes_and_5_minutes_before_expiry(
    lifetime: float | None, due: float
) -> None:
    exp = None if lifetime is None else 1000.0 + lifetime
    state = TokenState.issued(make_token(exp), now=0.0, service_now=1000.0)
    assert state.refresh_due_at() == due


def test_a_token_is_not_used_in_its_last_seconds() -> None:
    state = TokenState.issued(make_token(1060.0), now=0.0, service_now=1000.0)
    assert state.usable(49.0)
    assert not state.usable(51.0)
