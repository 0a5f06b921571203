"""The delivery guarantees in Firefox and WebKit, the engines beside Chromium that a shop's
visitors use (Safari, every browser on iOS): the same scenario code as the Chromium tests,
through a Playwright-shaped browser of each engine (Firefox ESR over WebDriver BiDi, WebKitGTK
over WebKitWebDriver under Xvfb: ``masivo_web.devtools.engines``). No engine is skipped: one
that cannot start fails, saying what to install.

Per engine: a Pyodide and a MicroPython page deliver; each page left at once sends its own
events (first and later page: navigate, close, reload); a hidden page sends on
``visibilitychange`` alone (the Firefox close: ``pagehide`` does not always fire there); a tab
closed while every send fails leaves its events to the next page, sent once; workers deliver
with and without cross-origin isolation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from masivo_web.devtools.departure_scenarios import SCENARIOS
from masivo_web.devtools.departures import run_scenario
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import HIDE, SETTINGS, client_code, open_harness
from tests.browser.test_worker_page import (
    EVENTS,
    ISOLATION,
    come_back,
    open_worker_page,
    queue_events,
    run_worker,
    stored,
    stored_twice,
)

#: What each harness page runs: Pyodide's returns its last expression, MicroPython's ``return``s.
SEND = {
    "harness.html": (
        "{client}"
        "ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c', brand_id=None,"
        " n=i).event_id for i in range(5)]\n"
        "await masivo.flush()\n"
        "import json\njson.dumps(ids)\n"
    ),
    "mpy.html": (
        "{client}"
        "ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c', brand_id=None,"
        " n=i).event_id for i in range(5)]\n"
        "await masivo.flush()\n"
        "return ids\n"
    ),
}


@pytest.mark.parametrize("harness", ["harness.html", "mpy.html"], ids=["pyodide", "micropython"])
def test_a_page_delivers_its_events(
    harness: str, engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    context = engine.new_context()
    try:
        page = open_harness(context, pages_server, harness)
        code = SEND[harness].format(client=client_code(emulator))
        ids = json.loads(page.evaluate("code => runPython(code)", code))
        assert len(ids) == 5
        assert stored(emulator, ids) == 5
        assert stored_twice(emulator) == 0
    finally:
        context.close()


DEPARTURES = [
    "navigate at once, later page",
    "close the tab at once, later page",
    "reload at once, later page",
    "navigate at once, first page, calls 300 ms in",
]


@pytest.mark.parametrize("name", DEPARTURES)
def test_a_page_left_at_once_sends_its_own_events(
    name: str, engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    (scenario,) = [scenario for scenario in SCENARIOS if scenario.name == name]
    outcome = run_scenario(engine, scenario, fresh_masivo_emulator, pages_server.url, SETTINGS)
    assert outcome.on_page == scenario.events == 30, outcome
    assert outcome.after_return == scenario.events, outcome
    assert outcome.stored_twice == 0, outcome


@pytest.mark.parametrize("name", DEPARTURES[:3])
def test_a_micropython_page_left_at_once_sends_its_own_events(
    name: str, engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    (scenario,) = [scenario for scenario in SCENARIOS if scenario.name == name]
    outcome = run_scenario(
        engine, scenario, fresh_masivo_emulator, pages_server.url, SETTINGS, "mpy.html"
    )
    assert outcome.on_page == scenario.events == 30, outcome
    assert outcome.after_return == scenario.events, outcome
    assert outcome.stored_twice == 0, outcome


def test_a_hidden_page_sends_on_visibilitychange_alone(
    engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    """The page becomes hidden and nothing else happens (no ``pagehide``, as in the Firefox
    tab closes that never fire it): what it queued is sent within seconds, long before the
    idle flush (60 s here) would."""
    emulator = fresh_masivo_emulator
    context = engine.new_context()
    try:
        page = open_harness(context, pages_server, "harness.html")
        code = client_code(emulator, idle_flush_s=60) + (
            "await masivo.get_token()\n"
            "ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c',"
            " brand_id=None).event_id for _ in range(20)]\n"
            "import json\njson.dumps(ids)\n"
        )
        ids = json.loads(page.evaluate("code => runPython(code)", code))
        time.sleep(0.5)
        assert emulator.control.received_events() == []  # nothing sent while visible
        page.evaluate(HIDE)
        assert stored(emulator, ids, wait_s=3) == 20
    finally:
        context.close()


def test_a_tab_closed_while_every_send_fails_is_sent_by_the_next_page_once(
    engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    """The page has seen its sends fail (so nothing says its last request at close arrived)
    and is closed: its events stay stored, and the next page of the site sends them, once.
    (A page that saw no failure hands its events to its last request and forgets them: the
    service stores every copy, so sending them again would count them twice.)"""
    emulator = fresh_masivo_emulator
    context = engine.new_context()
    try:
        page = open_harness(context, pages_server, "harness.html")
        client = client_code(emulator)
        page.evaluate("code => runPython(code)", client + "await masivo.get_token()\n")
        emulator.control.inject_fault("analytics", status=503, count=1000)
        code = client + (
            "ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c',"
            " brand_id=None).event_id for _ in range(20)]\n"
            "import asyncio, json\n_flushing = asyncio.ensure_future(masivo.flush())\n"
            "json.dumps(ids)\n"
        )
        ids = json.loads(page.evaluate("code => runPython(code)", code))
        deadline = time.monotonic() + 20
        while not emulator.control.requests(route="analytics"):  # the first send, refused
            assert time.monotonic() < deadline, "the page never sent"
            time.sleep(0.05)
        while page.evaluate("id => runPython(`masivo.where('${id}')`)", ids[0]) != "queued":
            assert time.monotonic() < deadline, "the failed send never came back to the queue"
            time.sleep(0.05)
        page.close()
        time.sleep(1)
        assert stored(emulator, ids, wait_s=0) == 0
        emulator.control.clear_faults()
        back = open_harness(context, pages_server, "harness.html")
        back.evaluate("code => runPython(code)", client)
        assert stored(emulator, ids, wait_s=20) == 20
        assert stored_twice(emulator) == 0
    finally:
        context.close()


@pytest.fixture(scope="module")
def isolated_server(pages_server: StaticServer) -> Iterator[StaticServer]:
    with StaticServer(SETTINGS.STATIC_DIR, headers=ISOLATION) as server:
        yield server


@pytest.mark.parametrize("isolation", ["plain", "isolated"])
@pytest.mark.parametrize("interpreter", ["py", "mpy"])
def test_a_worker_page_delivers_and_its_closed_tab_sends_its_events(
    interpreter: str,
    isolation: str,
    engine: Any,
    pages_server: StaticServer,
    request: pytest.FixtureRequest,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    server = request.getfixturevalue("isolated_server") if isolation == "isolated" else pages_server
    url = f"{server.url}/test/worker.html?type={interpreter}"
    context = engine.new_context()
    try:
        page = open_worker_page(context, url)
        ids = run_worker(page, queue_events(emulator))
        page.close()
        assert stored(emulator, ids) == EVENTS
        come_back(context, url, emulator)
        time.sleep(1)
        assert stored_twice(emulator) == 0
    finally:
        context.close()
