"""A visitor whose whole computer's clock is off: Chromium itself runs under libfaketime (every
page and worker reads the moved wall clock; ``performance.now()`` is untouched), against the
real emulator. On Pyodide and MicroPython pages and workers, 2 hours ahead and 80 hours behind:
every event is stored with Masivo's time, inside its window, after one authorize (issue: field
conditions, item 1)."""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS, client_code, open_harness
from tests.browser.test_worker_page import open_worker_page, run_worker

EVENTS = 4
SEND = (
    "import time\n"
    "device = time.time()\n"
    "statuses = []\n"
    f"for n in range({EVENTS}):\n"
    "    r = await masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c', "
    "brand_id=None)\n"
    "    statuses.append(r.status)\n"
)


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    if not found:
        pytest.fail("libfaketime is missing: `make test` installs it (apt: faketime).")
    return found[0]


@pytest.fixture(scope="module", params=["+2h", "-80h"])
def shifted_browser(request: pytest.FixtureRequest, playwright: Playwright) -> Iterator[Browser]:
    options = SETTINGS.launch_options()
    env = {
        **os.environ,
        "LD_PRELOAD": libfaketime(),
        "FAKETIME": str(request.param),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        # Debian's build turns on its glibc workaround for timed waits on the monotonic clock,
        # which stretched Chromium's waits: a page took ~100 s to boot. Off, it boots in ~1 s.
        "FAKETIME_FORCE_MONOTONIC_FIX": "0",
    }
    browser = playwright.chromium.launch(
        executable_path=options["executable_path"], args=options["args"], env=env
    )
    yield browser
    browser.close()


def stored_in_window(emulator: EmulatorServer, started: float, ended: float) -> list[float]:
    times = [
        datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00")).timestamp()
        for event in emulator.control.received_events()
    ]
    assert len(times) == EVENTS
    assert all(started - 1.5 <= moment <= ended for moment in times), (started, times)
    return times


@pytest.mark.parametrize("where", ["mpy", "py", "mpy worker", "py worker"])
def test_a_browser_whose_clock_is_off_stamps_every_event_with_masivos_time(
    where: str,
    shifted_browser: Browser,
    pages_server: StaticServer,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    interpreter, _, worker = where.partition(" ")
    context = shifted_browser.new_context()
    try:
        started = time.time()
        result: Any
        if worker:
            page = open_worker_page(
                context, f"{pages_server.url}/test/worker.html?type={interpreter}"
            )
            body = "global masivo\n" + client_code(emulator) + SEND + "return [device, statuses]\n"
            result = run_worker(page, body)
        elif interpreter == "mpy":
            page = open_harness(context, pages_server, "mpy.html")
            body = "global masivo\n" + client_code(emulator) + SEND + "return [device, statuses]"
            result = json.loads(page.evaluate("body => runPython(body)", body))
        else:
            page = open_harness(context, pages_server, "harness.html")
            code = client_code(emulator) + SEND + "import json\njson.dumps([device, statuses])"
            result = json.loads(page.evaluate("code => runPython(code)", code))
        ended = time.time()
    finally:
        context.close()
    device, statuses = result
    assert abs(device - started) > 3600  # the browser's clock really was off
    assert statuses == [201] * EVENTS
    stored_in_window(emulator, started, ended)
    assert len(emulator.control.requests(route="authorize")) == 1
