"""The SDK in PyScript's MicroPython (`<script type="mpy">`), in real Chromium against the
emulator, where it differs from Pyodide: the interpreter and the .mpy wheel, a tab closed
offline sent by the next page, storage that throws, and the demo shop's mpy page (the README's
snippet for MicroPython). What both interpreters share is in test_page_scenarios.py.

The harness (static/test/mpy.html) runs the body of an async function and returns its result
as JSON: `return` gives the result; `global name` keeps a name for later calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS, STORED_EVENTS, open_harness
from tests.browser.conftest import client_code as harness_client_code

EVENT = "dict(type='ADD_TO_CART', customer_id='c-1', brand_id=None)"


def open_mpy(context: BrowserContext, pages_server: StaticServer, query: str = "") -> Page:
    """A MicroPython harness page of ``context`` (``query``: ``?wheel=mpy``, the .mpy wheel)."""
    return open_harness(context, pages_server, f"mpy.html{query}")


def run(page: Page, body: str) -> Any:
    """Run ``body`` (an async function's) in the page's MicroPython; its returned value."""
    return json.loads(page.evaluate("body => runPython(body)", body))


def client_code(emulator: EmulatorServer, name: str = "masivo", **options: Any) -> str:
    """The harness's client code (a body here: ``global`` keeps the client for later calls)."""
    return f"global {name}\n" + harness_client_code(emulator, name, **options)


@pytest.fixture
def mpy_page(browser: Browser, pages_server: StaticServer) -> Iterator[Page]:
    page = open_mpy(browser.new_context(), pages_server)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    yield page
    page.context.close()
    # MicroPython prints this for every `raise ... from exc`: the SDK must never cause it.
    assert not [line for line in console if "chaining not supported" in line], console


def test_the_interpreter_is_micropython_and_an_awaited_event_is_stored(
    mpy_page: Page, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    result = run(
        mpy_page,
        client_code(emulator, brand_id="b-1")
        + "import sys\n"
        + "from masivo_web.runtime.interpreter import INTERPRETER\n"
        + "r = await masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c-1', "
        "platform='web', product={'sku': 'S-1', 'amount': 1, 'value': 29.99})\n"
        "return [sys.implementation.name, INTERPRETER, r.success, r.status]",
    )
    assert result == ["micropython", "micropython", True, 201]
    (event,) = emulator.control.received_events()
    assert event["product"] == {"sku": "S-1", "amount": 1, "value": 29.99}
    assert event["brand_id"] == "b-1"
    assert event["context"]["page"]["path"] == "/test/mpy.html"
    assert event["context"]["library"]["name"] == "masivo_web"
    assert event["context"]["timezone"]


def test_the_mpy_wheel_imports_without_source_and_delivers(
    browser: Browser, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    page = open_mpy(browser.new_context(), pages_server, "?wheel=mpy")
    result = run(
        page,
        client_code(fresh_masivo_emulator)
        + "import masivo_web.client\n"
        + f"r = await masivo.send_analytics_event(**{EVENT})\n"
        + "return [masivo_web.client.__file__, r.status]",
    )
    assert result[0].endswith("masivo_web/client.mpy") and result[1] == 201, result
    page.context.close()


def test_a_tab_closed_offline_is_sent_by_the_next_page_once(
    mpy_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    context = mpy_page.context
    run(mpy_page, client_code(emulator) + "await masivo.get_token()")
    context.set_offline(True)
    ids = run(
        mpy_page, f"return [masivo.send_analytics_event(**{EVENT}).event_id for _ in range(4)]"
    )
    mpy_page.wait_for_function(f"{STORED_EVENTS} === 4")
    mpy_page.close()  # offline: nothing leaves; the events stay in localStorage
    assert emulator.control.received_events() == []
    context.set_offline(False)
    reopened = open_mpy(context, pages_server)
    run(reopened, client_code(emulator))  # adopts the closed tab's events
    events = emulator.control.wait_for_events(4)
    assert sorted(event["event_id"] for event in events) == sorted(ids)
    reopened.wait_for_function(f"{STORED_EVENTS} === 0")
    assert len(emulator.control.received_events()) == 4


def test_storage_that_throws_falls_back_to_memory_and_the_interpreter_lives_on(
    mpy_page: Page, fresh_masivo_emulator: EmulatorServer
) -> None:
    # A full quota: every setItem throws a QuotaExceededError synchronously. Unguarded, each
    # throw would unwind MicroPython past its except/finally, and ~70 would exhaust it.
    emulator = fresh_masivo_emulator
    mpy_page.evaluate(
        "() => { Storage.prototype.setItem = function () {"
        " throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); }; }"
    )
    run(mpy_page, client_code(emulator, idle_flush_s=3600.0))
    for _ in range(4):
        run(mpy_page, f"for _ in range(50):\n    masivo.send_analytics_event(**{EVENT})")
    assert run(mpy_page, "await masivo.flush()\nreturn masivo.pending_events") == 0
    assert len(emulator.control.wait_for_events(200)) == 200


def test_the_demo_shop_on_micropython_sends_add_to_cart(
    browser: Browser, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    # static/demo/mpy.html: the README's snippet with type="mpy" and the same shop.py.
    page = browser.new_context().new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{pages_server.url}/demo/mpy.html?api={fresh_masivo_emulator.url}")
    page.wait_for_selector("body[data-ready=true]", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS)
    page.click("text=Add to cart >> nth=0")
    page.click("text=Send now")
    (event,) = fresh_masivo_emulator.control.wait_for_events(1, type="ADD_TO_CART", timeout=10)
    assert event["customer_id"] == "customer-123"
    assert event["product"]["sku"] == "SKU-ESPRESSO"
    page.click("text=Add to cart >> nth=1")
    page.click("#leave")  # queued (5 s idle flush): leaves with the page
    assert len(fresh_masivo_emulator.control.wait_for_events(2, type="ADD_TO_CART")) == 2
    page.context.close()
    # The README's MicroPython snippet (this page's) fetches nothing beyond loopback: no CDN.
    local = (pages_server.url, fresh_masivo_emulator.url, "data:", "blob:")
    assert [url for url in requested if not url.startswith(local)] == []
