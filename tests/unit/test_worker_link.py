"""A worker's client under CPython with its real :class:`~masivo_web.browser.worker.PageLink`,
whose page's main-thread module is played by the test over the link's channel and messages
(:class:`PageModule`). What it checks: nothing is stored or sent before the page answered; the
first events get the site's visitor and the page's fields; the visitor's choices made meanwhile
win; the page-hide plan, the page starting it, and its answer. (Real Chromium, both
interpreters: tests/browser/test_worker_page.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

from masivo_web.browser.page import Page
from masivo_web.browser.worker import PageLink
from masivo_web.engine.identity import IDENTITY_KEY, OPTED_OUT_KEY, Identity
from masivo_web.rules.ports import MemoryStorage
from tests.fakes import FakeMasivo, client_for, settle

PAGE = {
    "href": "https://shop.test/cart?utm_source=newsletter&utm_campaign=winter",
    "title": "Shop",
    "referrer": "",
    "visibility": "visible",
    "online": True,
}


class FakeChannel:
    """The link's ``BroadcastChannel``: what it posts is kept; ``onmessage`` is its handler."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.onmessage: Callable[[Any], None] | None = None
        self.posted: list[dict[str, Any]] = []

    def postMessage(self, text: str) -> None:
        self.posted.append(json.loads(text))


class PageModule:
    """Plays the page's main-thread module for a real :class:`PageLink`, over the link's own
    channel and messages: its hello (the page's storage and state), what the link posts to it
    (storage writes, page-hide plans), the requests it starts at page hide and their answers.
    The link's task ends run when the test says (``end_task``)."""

    def __init__(self, local: dict[str, str]) -> None:
        self.stored = dict(local)  # the page's localStorage
        self._task_ends: list[Callable[[], object]] = []
        self.channels: list[FakeChannel] = []

        def new_channel(name: str) -> FakeChannel:
            self.channels.append(FakeChannel(name))
            return self.channels[-1]

        js = SimpleNamespace(
            location=SimpleNamespace(origin="https://shop.test", href="https://shop.test/w.py"),
            navigator=SimpleNamespace(userAgent="UA", language="en", locks=None, onLine=True),
            Intl=None,
            Promise=None,
            Object=None,
            BroadcastChannel=SimpleNamespace(new=new_channel),
            encodeURIComponent=quote,
        )
        installed: list[str] = []
        xworker = SimpleNamespace(
            sync=SimpleNamespace(importJS=lambda url, name: installed.append(url))
        )
        self.link = PageLink(js, xworker, lambda f: f, at_task_end=self._at_task_end)
        assert installed and installed[0].endswith(
            "masivo_web_page.js?channel=" + quote(self.channels[0].name)
        )  # the module file first

    def _at_task_end(self, callback: Callable[[], object]) -> None:
        self._task_ends.append(callback)

    def page(self) -> Page:
        link = self.link
        return Page(link.window, link.document, link.navigator, None, lambda f: f, None, link=link)

    def tell(self, message: dict[str, Any]) -> None:
        handler = self.channels[0].onmessage
        assert handler is not None
        handler(SimpleNamespace(data=json.dumps(message)))

    def answer(self) -> None:
        """The module's first message: the page's storage and state."""
        self.tell({"t": "hello", "local": self.stored, "session": {}, "page": PAGE})

    def end_task(self) -> None:
        while self._task_ends:
            ends, self._task_ends = self._task_ends, []
            for end in ends:
                end()

    @property
    def syncs(self) -> list[dict[str, Any]]:
        return [message for message in self.channels[0].posted if message["t"] == "sync"]

    @property
    def writes(self) -> list[tuple[str, str, str | None]]:
        """Every storage write the link sent the page, in order."""
        return [
            (area, key, value)
            for message in self.syncs
            for area in ("local", "session")
            for key, value in message.get(area, {}).items()
        ]

    def plan(self) -> tuple[int, list[list[str]], list[dict[str, Any]]]:
        """The last page-hide plan: its number, each request's event ids, the requests."""
        plan = self.syncs[-1]["plan"]
        requests = plan["requests"]
        bodies = [json.loads(request["body"]) for request in requests]
        ids = [[event["event_id"] for event in body.get("events", [body])] for body in bodies]
        return plan["n"], ids, requests


STORED_VISITOR = {IDENTITY_KEY: json.dumps({"anonymous_id": "anon-A", "customer_id": "cust-C"})}


async def test_events_before_the_page_answered_get_the_sites_visitor_and_the_page() -> None:
    masivo = fake_masivo()
    module = PageModule(STORED_VISITOR)
    client = client_for(masivo, page=module.page())
    client.send_analytics_event(type="EARLY", brand_id=None)
    client.page()
    module.end_task()
    await settle()
    # Neither the events nor the visitor are stored before the page answered (the owner's
    # lease and the tab's token may be: they are this page's own), nor is anything sent.
    early = list(module.link.local.items)
    assert [key for key in early if ":ev:" in key or key == IDENTITY_KEY] == []
    assert module.syncs == [] and masivo.event_requests == []
    module.answer()
    events = [json.loads(item.event.json) for item in client._outbox.queue.items]
    assert [(e["anonymous_id"], e["customer_id"]) for e in events] == [("anon-A", "cust-C")] * 2
    assert events[1]["url"] == "https://shop.test/cart?utm_source=newsletter&utm_campaign=winter"
    assert events[0]["context"]["page"]["title"] == "Shop"
    assert events[0]["context"]["campaign"] == {"source": "newsletter", "name": "winter"}
    module.end_task()
    segments = [value for _, key, value in module.writes if ":ev:" in key]
    assert len(segments) == 1  # one segment, written once the events were completed
    assert segments[0] is not None and "anon-A" in segments[0]
    client.destroy()


def fake_masivo() -> FakeMasivo:
    from tests.fakes import FakeClock

    return FakeMasivo(FakeClock())


def test_what_the_visitor_decides_before_the_page_answered_wins() -> None:
    storage = MemoryStorage()
    storage.items.update(STORED_VISITOR)
    storage.items[OPTED_OUT_KEY] = "1"
    identity = Identity(storage, readable=False)
    told: list[str] = []
    identity.opt_out_listeners.append(lambda: told.append("opt-out"))
    identity.identify("cust-X")
    identity.opt_in()
    assert dict(storage.items) == {**STORED_VISITOR, OPTED_OUT_KEY: "1"}  # nothing written yet
    identity.load()
    assert (identity.anonymous_id, identity.customer_id) == ("anon-A", "cust-X")
    assert identity.opted_out is False and told == []
    assert OPTED_OUT_KEY not in storage.items
    assert json.loads(storage.items[IDENTITY_KEY]) == {
        "anonymous_id": "anon-A",
        "customer_id": "cust-X",
    }


def test_a_stored_opt_out_drops_what_was_queued_before_the_page_answered() -> None:
    storage = MemoryStorage()
    storage.items[OPTED_OUT_KEY] = "1"
    identity = Identity(storage, readable=False)
    told: list[str] = []
    identity.opt_out_listeners.append(lambda: told.append("opt-out"))
    assert identity.opted_out is False
    identity.load()
    assert identity.opted_out is True and told == ["opt-out"]


def test_a_reset_before_the_page_answered_keeps_the_new_visitor() -> None:
    storage = MemoryStorage()
    storage.items.update(STORED_VISITOR)
    identity = Identity(storage, readable=False)
    identity.reset()
    fresh = identity.anonymous_id
    identity.load()
    assert (identity.anonymous_id, identity.customer_id) == (fresh, None)
    assert json.loads(storage.items[IDENTITY_KEY]) == {"anonymous_id": fresh}


async def test_the_page_hide_plan_and_its_hand_over() -> None:
    masivo = fake_masivo()
    module = PageModule({})
    client = client_for(masivo, page=module.page())
    module.answer()
    assert module.plan()[1] == []  # no token yet: the page could not send
    await client.get_token()
    ids = [client.send_analytics_event(type="T", brand_id=None).event_id for _ in range(3)]
    module.end_task()
    number, planned, (request,) = module.plan()
    assert planned == [ids] and len(client._outbox.queue) == 3  # planned, not taken
    token = client._auth.cached_token
    assert request["headers"]["authorization"] == f"Bearer {token}"
    # The page started it at page hide: the events are sent, and its answer settles them.
    module.tell({"t": "fired", "plan": number, "started": [0]})
    assert len(client._outbox.queue) == 0 and client.where(ids[0]) == "sent"
    module.end_task()
    assert module.plan()[1] == []  # no longer in the plan
    body = {"data": [{"index": i, "status": 201, "id": e} for i, e in enumerate(ids)]}
    module.tell({"t": "answer", "plan": number, "i": 0, "status": 200, "body": json.dumps(body)})
    await settle()
    assert client.pending_events == 0 and masivo.event_requests == []
    client.destroy()
    module.end_task()
    assert module.syncs[-1]["plan"]["requests"] == []  # its planner is gone


async def test_a_plan_whose_events_were_taken_meanwhile_is_not_handed_over() -> None:
    masivo = fake_masivo()
    module = PageModule({})
    client = client_for(masivo, page=module.page())
    module.answer()
    await client.get_token()
    ids = [client.send_analytics_event(type="T", brand_id=None).event_id for _ in range(2)]
    module.end_task()
    number, planned, _ = module.plan()
    await client.flush()  # sent from the worker meanwhile
    module.tell({"t": "fired", "plan": number, "started": [0]})
    module.tell({"t": "answer", "plan": number, "i": 0, "status": 500, "body": "{}"})
    await settle()
    assert planned == [ids] and client.pending_events == 0
    sent = [event["event_id"] for batch in masivo.batches for event in batch]
    assert sent == ids  # once, by the worker: the page's start was not taken for it
    client.destroy()


@pytest.mark.parametrize("route", ["analytics", "behavior"])
async def test_the_plan_fits_the_keepalive_budget(route: str) -> None:
    masivo = fake_masivo()
    module = PageModule({})
    client = client_for(masivo, page=module.page(), event_route=route)
    module.answer()
    await client.get_token()
    for _ in range(150):
        client.send_analytics_event(type="T", brand_id=None, note="x" * 400)
    module.end_task()
    _, planned, requests = module.plan()
    sizes = [len(request["body"].encode()) for request in requests]
    assert sum(sizes) <= 48 * 1024
    assert all(len(ids) == 1 for ids in planned) if route == "behavior" else len(planned) >= 1
    client.destroy()
