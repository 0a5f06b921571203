"""A visitor whose clock is off, in real Chromium: the page's ``Date`` is shifted before any
script runs (Pyodide's and MicroPython's ``time.time()`` read it; ``performance.now()`` is left
alone), against the real emulator. Every event is stored inside Masivo's window by the
emulator's clock, with one authorize (issue: field conditions, item 1)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import client_code, open_harness

EVENTS = 5

#: Every Date the page makes is ``offset`` ms off (``new Date()`` and ``Date.now()``).
SHIFT_DATE = """
(() => {
  const offset = %d;
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length) { super(...args); } else { super(RealDate.now() + offset); }
    }
    static now() { return RealDate.now() + offset; }
  }
  globalThis.Date = ShiftedDate;
})();
"""

SEND = (
    "import time\n"
    "device = time.time()\n"
    "results = []\n"
    f"for n in range({EVENTS}):\n"
    "    results.append(await masivo.send_analytics_event("
    "type='ADD_TO_CART', customer_id='c-' + str(n), brand_id=None))\n"
)


def shifted_page(browser: Browser, pages_server: StaticServer, harness: str, hours: float) -> Page:
    context = browser.new_context()
    context.add_init_script(SHIFT_DATE % int(hours * 3600 * 1000))
    return open_harness(context, pages_server, harness)


def run(page: Page, harness: str, emulator: EmulatorServer) -> Any:
    if harness == "mpy.html":
        body = "global masivo\n" + client_code(emulator) + SEND
        body += "return [device, [r.status for r in results]]"
        return json.loads(page.evaluate("body => runPython(body)", body))
    code = (
        client_code(emulator)
        + SEND
        + "import json\njson.dumps([device, [r.status for r in results]])"
    )
    return json.loads(page.evaluate("code => runPython(code)", code))


@pytest.mark.parametrize("hours", [2.0, -80.0, 0.25])
@pytest.mark.parametrize("harness", ["harness.html", "mpy.html"])
def test_a_page_with_a_wrong_clock_delivers_every_event_in_time(
    browser: Browser,
    pages_server: StaticServer,
    fresh_masivo_emulator: EmulatorServer,
    harness: str,
    hours: float,
) -> None:
    emulator = fresh_masivo_emulator
    page = shifted_page(browser, pages_server, harness, hours)
    try:
        started = time.time()
        device, statuses = run(page, harness, emulator)
        ended = time.time()
    finally:
        page.context.close()
    assert abs(device - started - hours * 3600) < 60  # the page's clock really was off
    assert statuses == [201] * EVENTS
    stored = [
        datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00")).timestamp()
        for event in emulator.control.received_events()
    ]
    assert len(stored) == EVENTS
    assert all(started - 1.5 <= moment <= ended for moment in stored), (started, stored)
    assert len(emulator.control.requests(route="authorize")) == 1


@pytest.mark.parametrize("hours", [-2.0, 80.0])
@pytest.mark.parametrize("interpreter", ["py", "mpy"])
def test_a_worker_whose_clock_is_not_masivos_delivers_every_event_in_time(
    browser: Browser,
    pages_server: StaticServer,
    fresh_masivo_emulator: EmulatorServer,
    interpreter: str,
    hours: float,
) -> None:
    """The same in a PyScript worker (an init script does not reach a worker's ``Date``), with
    the difference made on Masivo's side: the emulator's clock is ``hours`` off the machine's,
    so the worker's clock is ``-hours`` off Masivo's (2 h ahead: every event "in the future";
    80 h behind: every event "older than 72 h", before the fix)."""
    from tests.browser.test_worker_page import open_worker_page, run_worker

    emulator = fresh_masivo_emulator
    emulator.control.update_settings(clock_offset_s=hours * 3600)
    context = browser.new_context()
    try:
        page = open_worker_page(context, f"{pages_server.url}/test/worker.html?type={interpreter}")
        started = time.time()
        statuses = run_worker(
            page,
            "global masivo\n"
            + client_code(emulator)
            + SEND
            + "return [r.status for r in results]\n",
        )
        ended = time.time()
    finally:
        context.close()
    assert statuses == [201] * EVENTS
    stored = [
        datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00")).timestamp()
        for event in emulator.control.received_events()
    ]
    assert len(stored) == EVENTS
    offset = hours * 3600  # Masivo's time: the machine's plus its offset
    assert all(started + offset - 1.5 <= at <= ended + offset for at in stored), (started, stored)
    assert len(emulator.control.requests(route="authorize")) == 1
