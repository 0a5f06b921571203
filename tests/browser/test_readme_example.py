"""Test your own PyScript page against the Masivo emulator (this file is shown in the README).

`fresh_masivo_emulator` comes from the masivo_web pytest plugin; `page` from pytest-playwright.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer

# The folder your site's pages live in. In this repository they are in static/ (the demo shop
# is static/demo/); in yours, e.g. Path(__file__).parent.parent / "site".
SITE = Path(__file__).resolve().parents[2] / "static"


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    with StaticServer(SITE) as server:  # another origin than the emulator, as in production
        yield server.url


def test_add_to_cart_reaches_masivo(
    page: Page, site_url: str, fresh_masivo_emulator: EmulatorServer
) -> None:
    # The page reads the emulator's address from its URL and passes it to create_client as
    # auth_url=f"{api}/auth/authorize", api_base=f"{api}/api/storefront/v1".
    page.goto(f"{site_url}/demo/?api={fresh_masivo_emulator.url}")
    page.wait_for_selector("body[data-ready=true]", timeout=90_000)  # Pyodide boots in seconds

    page.click("button.add-to-cart")  # the first product's "Add to cart"
    page.click("#flush")  # "Send now"

    (event,) = fresh_masivo_emulator.control.wait_for_events(1, type="ADD_TO_CART", timeout=10)
    assert event["customer_id"] == "customer-123"
    assert event["product"]["sku"] == "SKU-ESPRESSO"
