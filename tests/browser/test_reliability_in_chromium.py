"""The fast part of the Chromium reliability proof (`make reliability` does 50): pages reloaded
or navigated away in the middle of flushes, under chaos: lost and stored twice only what a fault
explains (Masivo's policy); nothing lost with a service that de-duplicates."""

from __future__ import annotations

from playwright.sync_api import Browser

from masivo_web.devtools.reliability import run_chromium
from masivo_web.devtools.tally import report


def test_reloads_in_the_middle_of_flushes_lose_only_what_faults_explain(browser: Browser) -> None:
    """Masivo's policy: a fault on a request handed off as its page went loses those events
    (at most a page's worth per fault), and a page left after a failure keeps them stored."""
    row = run_chromium(navigations=3, seed=11, browser=browser)
    summary = report([row], seed=11)
    assert row.sent == 4 * 20, summary
    assert row.lost <= row.loss_bound, summary
    assert row.stored_twice <= row.resend_bound, summary
    assert row.stored_once + row.stored_twice + row.lost == row.sent, summary


def test_with_a_deduplicating_service_reloads_mid_flush_lose_nothing(browser: Browser) -> None:
    row = run_chromium(navigations=3, seed=11, browser=browser, deduplicating=True)
    summary = report([row], seed=11)
    assert row.sent == 4 * 20, summary
    assert row.lost == 0, summary
    assert row.stored_once == row.sent, summary
