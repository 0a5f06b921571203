"""masivo_web in a PyScript worker (``<script type="py" worker>``), in real Chromium against the
emulator: the worker installs its main-thread part, which starts the page-hide flush, keeps the
write-ahead copy in ``localStorage`` and the page's state; identity and consent are the site's.

Each scenario runs with and without cross-origin isolation (COOP/COEP: SharedArrayBuffer), in a
fresh browser context. Counts are by ``event_id``, read from the emulator before any later page
of the site runs the SDK ("on the page"), and after one did ("after return").
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import HIDE, SETTINGS, client_code

EVENTS = 20
ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}


@pytest.fixture(scope="module")
def isolated_server(pages_server: StaticServer) -> Iterator[StaticServer]:
    """static/ again, cross-origin isolated (the page gets SharedArrayBuffer)."""
    with StaticServer(SETTINGS.STATIC_DIR, headers=ISOLATION) as server:
        yield server


@pytest.fixture(params=["py", "mpy"])
def interpreter(request: pytest.FixtureRequest) -> str:
    """The worker's interpreter: Pyodide (``type="py"``) or MicroPython (``type="mpy"``)."""
    return str(request.param)


@pytest.fixture(params=["plain", "isolated"])
def worker_url(request: pytest.FixtureRequest, pages_server: StaticServer, interpreter: str) -> str:
    """The worker page's URL (its origin, path and interpreter), with or without isolation."""
    server = pages_server
    if request.param == "isolated":
        server = request.getfixturevalue("isolated_server")
    return f"{server.url}/test/worker.html?type={interpreter}"


def open_worker_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.set_default_timeout(SETTINGS.ACTION_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function(
        "window.__ready || window.__bootError", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS
    )
    error = page.evaluate("window.__bootError || null")
    assert error is None, f"the worker page failed to boot: {error}"
    return page


def run_worker(page: Page, code: str) -> Any:
    return json.loads(page.evaluate("code => runWorker(code)", code))


def run_worker_then_navigate(page: Page, code: str) -> Any:
    """Run ``code`` in the worker, then navigate away in the task its answer arrives in, as a
    click would; returns what it returned."""
    return json.loads(
        page.evaluate(
            "async code => { const ids = await runWorker(code);"
            " setTimeout(() => { location.href = '/test/elsewhere.html'; }, 0);"
            " return ids; }",
            code,
        )
    )


def ready_client(emulator: EmulatorServer) -> str:
    """Python for the worker: ``masivo``, a client past its first moments (a first event
    delivered: its token is cached and its page has answered, so its events are stored in the
    page). Before the page's first answer, a few milliseconds after the first client, events
    are neither stored nor sent: the README says so, and tests/unit/test_worker_link.py covers
    that window."""
    return (
        "global masivo\n"
        + client_code(emulator)
        + "await masivo.send_analytics_event(type='PAGE_VIEW', brand_id=None, url='first')\n"
    )


#: Python for the worker: EVENTS events queued by ``masivo``; returns their ids.
QUEUE = (
    f"return [masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None, n=i).event_id"
    f" for i in range({EVENTS})]\n"
)


def queue_events(emulator: EmulatorServer) -> str:
    """Python for the worker: :func:`ready_client`, then EVENTS events queued; returns their
    ids."""
    return ready_client(emulator) + QUEUE


def stored(emulator: EmulatorServer, ids: list[str], wait_s: float = 5.0) -> int:
    wanted = set(ids)
    deadline = time.monotonic() + wait_s
    while True:
        found = {event["event_id"] for event in emulator.control.received_events()} & wanted
        if len(found) == len(wanted) or time.monotonic() >= deadline:
            return len(found)
        time.sleep(0.1)


def stored_twice(emulator: EmulatorServer) -> int:
    counts: dict[str, int] = {}
    for event in emulator.control.received_events():
        counts[event["event_id"]] = counts.get(event["event_id"], 0) + 1
    return sum(1 for count in counts.values() if count > 1)


def come_back(context: BrowserContext, worker_url: str, emulator: EmulatorServer) -> Page:
    """A later page of the site runs the SDK (in its worker) and adopts what was left."""
    page = open_worker_page(context, worker_url)
    run_worker(page, "global masivo\n" + client_code(emulator) + "return None\n")
    return page


@pytest.mark.parametrize("leave", ["navigate", "close", "hidden"])
def test_a_worker_page_left_at_once_sends_its_events(
    leave: str, worker_url: str, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    try:
        page = open_worker_page(context, worker_url)
        code = queue_events(emulator)
        if leave == "navigate":  # in the task the answer arrives in, as a click would
            ids = run_worker_then_navigate(page, code)
        else:
            ids = run_worker(page, code)
            if leave == "close":
                page.close()
            else:
                page.evaluate(HIDE)
        assert stored(emulator, ids) == EVENTS
        assert stored_twice(emulator) == 0
    finally:
        context.close()


@pytest.mark.parametrize("network", ["online", "offline"])
def test_a_worker_page_closed_leaves_its_events_to_the_next_page(
    network: str, worker_url: str, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    try:
        page = open_worker_page(context, worker_url)
        run_worker(page, ready_client(emulator) + "return None\n")
        if network == "offline":
            context.set_offline(True)
        ids = run_worker(page, QUEUE)
        page.close()
        context.set_offline(False)
        time.sleep(1)
        come_back(context, worker_url, emulator)
        assert stored(emulator, ids, wait_s=15) == EVENTS
        assert stored_twice(emulator) == 0
    finally:
        context.close()


def test_identity_and_consent_are_the_sites_across_reloads_and_threads(
    worker_url: str, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    try:
        page = open_worker_page(context, worker_url)
        first = run_worker(
            page,
            client_code(emulator)
            + "masivo.identify('customer-7')\n"
            + "await masivo.flush()\n"
            + "return masivo.anonymous_id\n",
        )
        page.reload()
        page.wait_for_function("window.__ready", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS)
        # The first event of the next page is sent before the page answered: it still carries
        # the site's visitor.
        code = (
            client_code(emulator)
            + "delivery = masivo.send_analytics_event(type='VIEW', brand_id=None)\n"
            + "result = await delivery\n"
            + "return [masivo.anonymous_id, masivo.customer_id, result.success]\n"
        )
        anonymous_id, customer_id, ok = run_worker(page, code)
        assert (anonymous_id, customer_id, ok) == (first, "customer-7", True)
        (event,) = [e for e in emulator.control.received_events() if e["type"] == "VIEW"]
        assert (event["anonymous_id"], event["customer_id"]) == (first, "customer-7")
        assert "/test/worker.html" in event["context"]["page"]["url"]
        # The main thread's storage holds the same visitor (a main-thread client reads it).
        stored_identity = page.evaluate("JSON.parse(localStorage.getItem('masivo_web:identity'))")
        assert stored_identity == {"anonymous_id": first, "customer_id": "customer-7"}
        run_worker(page, client_code(emulator) + "masivo.opt_out()\nreturn None\n")
        page.reload()
        page.wait_for_function("window.__ready", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS)
        outcome = run_worker(
            page,
            client_code(emulator)
            + "result = await masivo.send_analytics_event(type='AFTER', brand_id=None)\n"
            + "return [masivo.opted_out, result.success, result.data]\n",
        )
        assert outcome == [True, False, {"reason": "opted out"}]
        assert page.evaluate("localStorage.getItem('masivo_web:opted_out')") == "1"
    finally:
        context.close()
