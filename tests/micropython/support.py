"""What the MicroPython checks share: a scripted Masivo behind the SDK's MockTransport, a page
made of the JS fakes of run_checks.mjs, and waiting for a condition."""

import asyncio
import binascii
import json
import time

from masivo_web import create_client
from masivo_web.browser.page import Page
from masivo_web.rules.http import Response
from masivo_web.rules.policy import DeliveryPolicy
from masivo_web.runtime.jsbridge import js_bridge
from masivo_web.transports.mock import MockTransport

AUTH_URL = "https://auth.test/auth/authorize"
API_BASE = "https://api.test/api/storefront/v1"
#: Retries within milliseconds, so the checks run in real time.
FAST = DeliveryPolicy(
    backoff_base_s=0.01, backoff_cap_s=0.05, resume_delay_s=0.01, authorize_floor_s=0.01
)


def jwt(exp):
    """A token whose payload says ``exp`` (the signature is the server's business)."""
    payload = binascii.b2a_base64(json.dumps({"exp": exp}).encode()).decode().strip()
    payload = payload.replace("+", "-").replace("/", "_").rstrip("=")
    return "eyJhbGciOiJIUzI1NiJ9." + payload + ".c2ln"


class Masivo:
    """Answers authorize with a token and batches with 201 per event, unless ``script`` (a
    list of ``Response`` or functions of the request) says otherwise for the next requests."""

    def __init__(self, token_ttl_s=3600):
        self.token_ttl_s = token_ttl_s
        self.script = []
        self.authorized = 0
        self.tokens = []
        self.bodies = []
        self.stored = {}  # event_id -> times stored
        self.order = []  # event ids, in the order they were stored
        self.transport = MockTransport(self.answer)

    def answer(self, request):
        if request.url == AUTH_URL:
            self.authorized += 1
            token = jwt(int(time.time() + self.token_ttl_s)) + str(self.authorized)
            self.tokens.append(token)
            return Response(200, body=json.dumps({"data": token}).encode())
        if self.script:
            scripted = self.script.pop(0)
            if not isinstance(scripted, Response):
                scripted = scripted(request)
            if scripted is not None:
                return scripted
        self.bodies.append(request)
        events = _events(request)
        answers = []
        for index, event in enumerate(events):
            event_id = event["event_id"]
            seen = self.stored.get(event_id, 0)
            self.stored[event_id] = seen + 1
            if not seen:
                self.order.append(event_id)
            answers.append({"index": index, "status": 200 if seen else 201, "id": event_id})
        return Response(201, body=json.dumps({"data": answers}).encode())

    def events(self):
        """Every stored event (the last body that carried each), in stored order."""
        found = {}
        for request in self.bodies:
            for event in _events(request):
                found[event["event_id"]] = event
        return [found[event_id] for event_id in self.order]


def _events(request):
    """The events of a batch request, gunzipped when it was sent so."""
    body = request.body
    if request.headers.get("content-encoding") == "gzip":
        import io

        import deflate

        body = deflate.DeflateIO(io.BytesIO(body), deflate.GZIP).read()
    return json.loads(body)["events"]


def client(masivo, **options):
    """A client of ``masivo`` with short timers; ``options`` override."""
    settings = {
        "auth_url": AUTH_URL,
        "api_base": API_BASE,
        "transport": masivo.transport,
        "idle_flush_s": 0.02,
        "policy": FAST,
        "page": None,
    }
    settings.update(options)
    return create_client("client-key-1", **settings)


def page(href="https://shop.test/cart", local=None, session=None):
    """A page of the JS fakes: ``local``/``session`` are fakebrowser storages (None: none)."""
    import fakebrowser

    parts = fakebrowser.page(href, local, session)
    return Page(
        parts.window,
        parts.document,
        parts.navigator,
        parts.localStorage,
        js_bridge().create_proxy,
        parts.sessionStorage,
    )


async def until(condition, timeout_s=3.0, what="the condition"):
    """Wait for ``condition()`` to be true (polling), or fail saying ``what``."""
    deadline = time.ticks_add(time.ticks_ms(), int(timeout_s * 1000))
    while not condition():
        if time.ticks_diff(deadline, time.ticks_ms()) < 0:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.005)


def cart(**fields):
    event = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
    event.update(fields)
    return event
