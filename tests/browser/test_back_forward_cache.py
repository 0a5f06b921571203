"""The back-forward cache, in the three engines (Chromium as visitors have it: Playwright
launches it with its cache off unless told not to): a page running masivo_web is kept in it (a
visible page holds no Web Lock; a page holding one is never cached in Firefox), and after a
restore the client keeps working: alive again, its kept token used, its stored queue neither
lost nor sent twice (also when another tab of the site took it meanwhile), and leaving the
restored page sends what it queued."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Playwright

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS, client_code, open_harness
from tests.browser.test_worker_page import stored, stored_twice

#: Python for the harness: ``count`` events queued by ``masivo``; their ids as JSON.
QUEUE = (
    "import json\n"
    "json.dumps([masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c',"
    " brand_id=None).event_id for _ in range({count})])\n"
)
#: Whether the page holds a Web Lock of the SDK's (a page holding one is never cached).
HOLDS_A_LOCK = (
    "async () => (await navigator.locks.query()).held.some((lock) => lock.name.includes(':owner:'))"
)
#: Whether the page's client declares itself alive with a lease (what a visible page does).
HAS_A_LEASE = "() => Object.keys(localStorage).some((key) => key.includes(':lease:'))"


def leave_then_come_back(page: Any, elsewhere: str) -> bool:
    """Follow a link away from ``page`` and go back, as a visitor does; whether the page came
    back from the cache (the same page, alive: its marker kept) rather than loaded again."""
    page.evaluate(
        "url => { window.__cached = 1; setTimeout(() => { location.href = url; }, 0); }", elsewhere
    )
    page.wait_for_url(elsewhere)
    time.sleep(1)  # WebKit's driver may leave a script unanswered while a page enters the cache
    page.evaluate("() => { setTimeout(() => history.back(), 0); }")
    time.sleep(1.5)
    page.wait_for_function("document.readyState === 'complete' && !!document.body")
    return bool(page.evaluate("() => window.__cached === 1"))


@pytest.fixture(scope="module")
def caching_chromium(playwright: Playwright) -> Iterator[Any]:
    """Chromium as visitors have it: Playwright launches it with its back-forward cache off."""
    browser = playwright.chromium.launch(
        **SETTINGS.launch_options(), ignore_default_args=["--disable-back-forward-cache"]
    )
    yield browser
    browser.close()


def test_a_restored_page_keeps_working_and_sends_what_it_queued_when_left(
    engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    a_restored_page_keeps_working(engine, pages_server, fresh_masivo_emulator)


def test_in_chromium_a_restored_page_keeps_working_and_sends_what_it_queued_when_left(
    caching_chromium: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    a_restored_page_keeps_working(caching_chromium, pages_server, fresh_masivo_emulator)


def a_restored_page_keeps_working(
    engine: Any, pages_server: StaticServer, emulator: EmulatorServer
) -> None:
    elsewhere = f"{pages_server.url}/test/elsewhere.html"
    context = engine.new_context()
    try:
        page = open_harness(context, pages_server, "harness.html")
        run = "code => runPython(code)"
        first = json.loads(page.evaluate(run, client_code(emulator) + QUEUE.format(count=5)))
        page.evaluate(run, "await masivo.flush()")
        assert page.evaluate(HAS_A_LEASE) and not page.evaluate(HOLDS_A_LOCK)
        authorizations = len(emulator.control.requests(route="authorize"))

        restores = [leave_then_come_back(page, elsewhere) for _ in range(3)]
        assert restores == [True, True, True], "the page was loaded again, not restored"

        time.sleep(0.5)
        assert page.evaluate(HAS_A_LEASE) and not page.evaluate(HOLDS_A_LOCK)  # alive again
        after = json.loads(page.evaluate(run, QUEUE.format(count=5)))
        page.evaluate(run, "await masivo.flush()")
        assert stored(emulator, first + after) == 10
        # The kept token served the restored page: no new authorize round trip.
        assert len(emulator.control.requests(route="authorize")) == authorizations
        # Leaving the restored page sends what it queued, from the page.
        queued = json.loads(
            page.evaluate(
                "async ([code, url]) => { const ids = await runPython(code);"
                " setTimeout(() => { location.href = url; }, 0); return ids; }",
                [QUEUE.format(count=20), elsewhere],
            )
        )
        assert stored(emulator, queued, wait_s=3) == 20
        assert stored_twice(emulator) == 0
    finally:
        context.close()


def test_events_another_tab_took_while_the_page_was_cached_are_stored_once(
    engine: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    adopted_while_cached(engine, pages_server, fresh_masivo_emulator)


def test_in_chromium_events_another_tab_took_while_the_page_was_cached_are_stored_once(
    caching_chromium: Any, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    adopted_while_cached(caching_chromium, pages_server, fresh_masivo_emulator)


def adopted_while_cached(engine: Any, pages_server: StaticServer, emulator: EmulatorServer) -> None:
    """The page leaves with events the service refused (so they stay stored), and is cached,
    its lock let go; another tab of the site adopts and sends them. Back on the page, it sends
    them no more, and what it tracks next still arrives."""
    elsewhere = f"{pages_server.url}/test/elsewhere.html"
    run = "code => runPython(code)"
    context = engine.new_context()
    try:
        page = open_harness(context, pages_server, "harness.html")
        page.evaluate(run, client_code(emulator) + "await masivo.get_token()\n")
        emulator.control.inject_fault("analytics", status=503, count=1000)
        code = (
            "import asyncio, json\n"
            "_ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c',"
            " brand_id=None).event_id for _ in range(10)]\n"
            "_flushing = asyncio.ensure_future(masivo.flush())\n"
            "json.dumps(_ids)\n"
        )
        ids = json.loads(page.evaluate(run, code))
        deadline = time.monotonic() + 20
        while not emulator.control.requests(route="analytics"):
            assert time.monotonic() < deadline, "the page never sent"
            time.sleep(0.05)
        while page.evaluate("id => runPython(`masivo.where('${id}')`)", ids[0]) != "queued":
            assert time.monotonic() < deadline, "the refused send never came back to the queue"
            time.sleep(0.05)
        page.evaluate(
            "url => { window.__cached = 1; setTimeout(() => { location.href = url; }, 0); }",
            elsewhere,
        )
        page.wait_for_url(elsewhere)
        time.sleep(1)
        emulator.control.clear_faults()
        other = open_harness(
            context, pages_server, "harness.html"
        )  # the site's other tab adopts what it left
        other.evaluate(run, client_code(emulator, "other"))
        assert stored(emulator, ids, wait_s=20) == 10
        page.evaluate("() => { setTimeout(() => history.back(), 0); }")
        time.sleep(1.5)
        page.wait_for_function("document.readyState === 'complete' && !!document.body")
        assert page.evaluate("() => window.__cached === 1"), "not restored from the cache"
        later = json.loads(page.evaluate(run, QUEUE.format(count=1)))
        # A flush, not awaited: the request the page started as it left may stay unanswered
        # until its timeout (Firefox does not settle it after a restore).
        page.evaluate(run, "import asyncio\n_later = asyncio.ensure_future(masivo.flush())\n")
        assert stored(emulator, later, wait_s=20) == 1
        time.sleep(2)
        assert stored_twice(emulator) == 0
        assert len(emulator.control.received_events()) == 11
    finally:
        context.close()
