"""A worker's client under CPython, through the page seam: a fake link stands in for
:class:`masivo_web.browser.worker.PageLink` (same storage, ``soon``, ``when_ready`` and planner
calls). What it checks: nothing is stored or sent before the page answered; the first events get the
site's visitor and the page's fields; the visitor's choices made meanwhile win; the page-hide plan
and its hand-over. (Real Chromium, both interpreters: tests/browser/test_worker_page.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from masivo_web.browser.page import Page
from masivo_web.browser.stand_ins import RelayStorage
from masivo_web.engine.identity import IDENTITY_KEY, OPTED_OUT_KEY, Identity
from masivo_web.rules.http import Response
from masivo_web.rules.ports import MemoryStorage
from tests.fakes import FakeMasivo, FakeNavigator, FakeTarget, client_for, settle


class FakeLink:
    """The link's side the SDK sees; ``answer()`` plays the page module's first message."""

    def __init__(self, local: dict[str, str]) -> None:
        self.ready = False
        self.stored = dict(local)  # the page's localStorage
        self.local = RelayStorage(self.write, "local")
        self.session = RelayStorage(self.write, "session")
        self.writes: list[tuple[str, str, str | None]] = []
        self.planners: list[Any] = []
        self._waiting: list[Callable[[], object]] = []
        self._soon: list[Callable[[], object]] = []

    def storage(self, area: str) -> RelayStorage:
        return self.local if area == "local" else self.session

    def when_ready(self, callback: Callable[[], object]) -> None:
        if self.ready:
            callback()
        else:
            self._waiting.append(callback)

    def soon(self, callback: Callable[[], object]) -> None:
        self._soon.append(callback)

    def write(self, area: str, key: str, value: str | None) -> None:
        self.writes.append((area, key, value))

    def changed(self) -> None:
        pass

    def add_planner(self, planner: Any) -> None:
        self.planners.append(planner)

    def remove_planner(self, planner: Any) -> None:
        self.planners.remove(planner)

    def end_task(self) -> None:
        """The end of the worker's task: what was put off runs (once the page answered)."""
        if self.ready:
            while self._soon:
                callbacks, self._soon = self._soon, []
                for callback in callbacks:
                    callback()

    def answer(self) -> None:
        early = dict(self.local.items)
        self.local.items = {**self.stored, **early}
        self.ready = True
        for callback in self._waiting:
            callback()
        self._waiting = []
        self.end_task()


def worker_page(link: FakeLink) -> Page:
    navigator = FakeNavigator()
    return Page(FakeTarget(), FakeTarget(), navigator, None, lambda f: f, None, link=link)


STORED_VISITOR = {IDENTITY_KEY: json.dumps({"anonymous_id": "anon-A", "customer_id": "cust-C"})}


async def test_events_before_the_page_answered_get_the_sites_visitor_and_the_page() -> None:
    masivo = fake_masivo()
    link = FakeLink(STORED_VISITOR)
    client = client_for(masivo, page=worker_page(link))
    client.send_analytics_event(type="EARLY", brand_id=None)
    client.page()
    link.end_task()
    await settle()
    # Neither the events nor the visitor are stored before the page answered (the owner's
    # lease and the tab's token may be: they are this page's own).
    assert [key for _, key, _ in link.writes if ":ev:" in key or key == IDENTITY_KEY] == []
    assert masivo.event_requests == []  # nor sent
    link.answer()
    events = [json.loads(item.event.json) for item in client._outbox.queue.items]
    assert [(e["anonymous_id"], e["customer_id"]) for e in events] == [("anon-A", "cust-C")] * 2
    assert events[1]["url"] == "https://shop.test/cart?utm_source=newsletter&utm_campaign=winter"
    assert events[0]["context"]["page"]["title"] == "Shop"
    assert events[0]["context"]["campaign"] == {"source": "newsletter", "name": "winter"}
    stored_events = [key for area, key, _ in link.writes if ":ev:" in key]
    assert len(stored_events) == 1  # one segment, written once the events were completed
    (segment,) = [value for _, key, value in link.writes if ":ev:" in key]
    assert segment is not None and "anon-A" in segment
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
    link = FakeLink({})
    client = client_for(masivo, page=worker_page(link))
    link.answer()
    (flusher,) = link.planners
    assert flusher.hide_plan() == []  # no token yet: the page could not send
    await client.get_token()
    ids = [client.send_analytics_event(type="T", brand_id=None).event_id for _ in range(3)]
    ((request, planned, token),) = flusher.hide_plan()
    assert planned == ids and len(client._outbox.queue) == 3  # planned, not taken
    assert [e["event_id"] for e in json.loads(request.body)["events"]] == ids
    assert request.headers["authorization"] == f"Bearer {token}"
    # The page started it at page hide: the events are sent, and its answer settles them.
    answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    async def wait() -> Response:
        return await answer

    assert flusher.started_elsewhere(planned, token, wait) is True
    assert len(client._outbox.queue) == 0 and client.where(ids[0]) == "sent"
    assert flusher.hide_plan() == []
    body = {"data": [{"index": i, "status": 201, "id": e} for i, e in enumerate(ids)]}
    answer.set_result(Response(200, {}, json.dumps(body).encode()))
    await settle()
    assert client.pending_events == 0 and masivo.event_requests == []
    client.destroy()
    assert link.planners == []


async def test_a_plan_whose_events_were_taken_meanwhile_is_not_handed_over() -> None:
    masivo = fake_masivo()
    link = FakeLink({})
    client = client_for(masivo, page=worker_page(link))
    link.answer()
    await client.get_token()
    ids = [client.send_analytics_event(type="T", brand_id=None).event_id for _ in range(2)]
    ((_, planned, token),) = link.planners[0].hide_plan()
    await client.flush()  # sent from the worker meanwhile
    called: list[str] = []

    async def wait() -> Response:
        called.append("awaited")
        raise AssertionError("not awaited")

    assert link.planners[0].started_elsewhere(planned, token, wait) is False
    assert called == [] and planned == ids
    client.destroy()


@pytest.mark.parametrize("route", ["analytics", "behavior"])
async def test_the_plan_fits_the_keepalive_budget(route: str) -> None:
    masivo = fake_masivo()
    link = FakeLink({})
    client = client_for(masivo, page=worker_page(link), event_route=route)
    link.answer()
    await client.get_token()
    for _ in range(150):
        client.send_analytics_event(type="T", brand_id=None, note="x" * 400)
    plan = link.planners[0].hide_plan()
    sizes = [len(request.body) for request, _, _ in plan]
    assert sum(sizes) <= 48 * 1024
    assert all(len(ids) == 1 for _, ids, _ in plan) if route == "behavior" else len(plan) >= 1
    client.destroy()
