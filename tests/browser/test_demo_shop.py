"""The PyScript demo shop end to end: real clicks, page and API on different origins."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS


@pytest.mark.parametrize(
    "page_name", ["index.html", "script.html"], ids=["py-script-tag", "script-type-py"]
)
def test_the_shop_sends_through_masivo_web_and_shows_what_arrived(
    page: Page, page_name: str, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    page.set_default_timeout(SETTINGS.ACTION_TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{pages_server.url}/demo/{page_name}?api={emulator.url}")
    page.wait_for_selector("body[data-ready=true]", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS)

    page.fill("#customer", "customer-42")
    page.click(".add-to-cart >> nth=0")
    page.click(".add-to-cart >> nth=2")
    page.click("#empty-cart")
    page.click("#flush")
    events = emulator.control.wait_for_events(3)
    assert [event["type"] for event in events] == ["ADD_TO_CART", "ADD_TO_CART", "EMPTY_CART"]
    assert [event.get("product", {}).get("sku") for event in events] == [
        "SKU-ESPRESSO",
        "SKU-CUP",
        None,
    ]
    assert {event["customer_id"] for event in events} == {"customer-42"}
    assert {event["brand_id"] for event in events} == {"demo-brand"}  # platform → default brand
    assert {entry["origin"] for entry in emulator.control.requests()} == {pages_server.url}

    # The live view shows what the emulator stored.
    page.wait_for_function("window.masivoReceived >= 3")
    assert page.locator("#events tr").count() == 3
    assert "ADD_TO_CART: 2" in page.inner_text("#legend")

    # Bad input is shown on the page, and nothing is queued.
    page.fill("#customer", "")
    page.click(".add-to-cart >> nth=1")
    assert "customer_id" in page.inner_text("#error")
    assert page.evaluate("window.masivoSent") == 3

    # Leaving mid-batch: the queued event still arrives.
    page.fill("#customer", "customer-42")
    page.click(".add-to-cart >> nth=1")
    page.click("#leave")
    page.wait_for_url("**/bye.html")
    last = emulator.control.wait_for_events(4)[-1]
    assert last["product"]["sku"] == "SKU-FROTHER"
    # The README's snippet (this page's) fetches nothing beyond the site and the API: no CDN.
    local = (pages_server.url, emulator.url, "data:", "blob:")
    assert [url for url in requested if not url.startswith(local)] == []
