"""The demo shop: product buttons send ADD_TO_CART and EMPTY_CART through masivo_web.

Runs in PyScript (``<py-script>`` in index.html, ``<script type="py">`` in script.html). The page
and the emulator are on different origins; ``?api=`` says where the emulator is.
"""

import js
from pyscript import document, when

from masivo_web import MasivoError, create_client

api = js.URLSearchParams.new(js.location.search).get("api") or "http://127.0.0.1:8765"

masivo = create_client(
    "test-client-key",  # the emulator's CLIENT key; use yours from the Masivo dashboard
    brand_id="demo-brand",  # injected into events that carry a platform
    auth_url=f"{api}/auth/authorize",
    api_base=f"{api}/api/storefront/v1",
    idle_flush_s=5.0,  # the SDK default is 30 s; shorter so the dashboard moves while you click
)
sent = 0


def track(event_type, **fields):
    """Send one event; show a validation problem instead of raising into the page."""
    global sent
    document.querySelector("#error").textContent = ""
    customer = document.querySelector("#customer").value.strip()
    try:
        masivo.send_analytics_event(
            type=event_type, customer_id=customer, platform="web", **fields
        )
    except MasivoError as error:
        document.querySelector("#error").textContent = error.message
        return
    sent += 1
    document.querySelector("#sent-count").textContent = str(sent)
    js.window.masivoSent = sent


@when("click", ".add-to-cart")
def add_to_cart(event):
    button = event.currentTarget
    track(
        "ADD_TO_CART",
        product={"sku": button.dataset.sku, "amount": 1, "value": float(button.dataset.value)},
    )


@when("click", "#empty-cart")
def empty_cart(event):
    track("EMPTY_CART")


@when("click", "#flush")
async def send_now(event):
    await masivo.flush()


js.window.masivoSent = 0
js.window.masivoApi = api
document.querySelector("#status").textContent = "ready"
document.body.dataset.ready = "true"
