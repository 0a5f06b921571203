"""The fast part of the Chromium reliability proof (`make reliability` does 50): pages reloaded
or navigated away in the middle of flushes, under chaos; nothing lost, and stored twice only
what a fault explains (a lost answer, or a page left while the service failed)."""

from __future__ import annotations

from playwright.sync_api import Browser

from masivo_web.emulator.reliability import report, run_chromium


def test_reloads_in_the_middle_of_flushes_lose_nothing(browser: Browser) -> None:
    row = run_chromium(navigations=3, seed=11, browser=browser)
    summary = report([row], seed=11)
    assert row.sent == 4 * 20, summary
    assert row.lost == 0, summary
    assert row.stored_twice <= row.resend_bound, summary
    assert row.stored_once + row.stored_twice == row.sent, summary
