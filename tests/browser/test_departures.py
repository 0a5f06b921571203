"""Events leave with the page (the fast part of `make reliability`'s departures): a page left at
once sends its own events, on the first page of a visit and on a later page of the tab, in real
Chromium against the emulator. Counted before any later page of the site runs the SDK."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from masivo_web.devtools.departure_scenarios import SCENARIOS
from masivo_web.devtools.departures import run_scenario
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS

CASES = [
    "navigate at once, later page",
    "close the tab at once, later page",
    "navigate at once, first page, calls 300 ms in",
]


@pytest.mark.parametrize("name", CASES)
def test_a_page_left_at_once_sends_its_own_events(
    name: str,
    browser: Browser,
    pages_server: StaticServer,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    (scenario,) = [scenario for scenario in SCENARIOS if scenario.name == name]
    outcome = run_scenario(browser, scenario, fresh_masivo_emulator, pages_server.url, SETTINGS)
    assert outcome.on_page == scenario.events == 30, outcome
    assert outcome.after_return == scenario.events, outcome
    assert outcome.stored_twice == 0, outcome
