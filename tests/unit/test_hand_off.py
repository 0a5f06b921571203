"""Re-sends Masivo would count twice: a page that goes away while the service answers normally
hands its events to keepalive requests and does not leave them for the next page; while the
service fails, it keeps them stored, and the next page sends them again. (Masivo documents no
de-duplication by ``event_id``.) Under CPython with fake pages; real Chromium:
tests/browser/test_departures.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from masivo_web import DeliveryPolicy
from masivo_web.browser.liveness import LEASE_TTL_S
from masivo_web.rules.http import Request, Response
from tests.fakes import FakeMasivo, json_response
from tests.unit.test_durable import EVENT, close_tab, stored, tab_client

QUICK = DeliveryPolicy(backoff_base_s=1.0, backoff_cap_s=2.0)


def leave(page: Any) -> None:
    """What navigating away fires: pagehide, then visibilitychange to hidden."""
    page.window.fire("pagehide")
    page.document.visibilityState = "hidden"
    page.document.fire("visibilitychange")


class Unanswered:
    """An events answer that never comes (the page is gone before it): the request counts as
    received by the service, as a keepalive request that outlives its page is."""

    def __init__(self, masivo: FakeMasivo) -> None:
        self.masivo = masivo
        self.received: list[str] = []

    async def __call__(self, request: Request) -> Response:
        self.received += [event["event_id"] for event in json.loads(request.body or b"")["events"]]
        await asyncio.Event().wait()
        raise AssertionError("never answered")


async def until(condition: Callable[[], object]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("it never happened")


async def next_page_sends(site: Any, masivo: FakeMasivo) -> list[str]:
    """Open the site's next page after the last one closed: the ids it sends."""
    before = len(masivo.batches)
    await masivo.clock.advance(LEASE_TTL_S + 1)
    reopened = tab_client(site(), masivo)
    await masivo.clock.advance(1)  # adoption claims, then verifies its claim 0.2 s later
    await reopened.flush()
    sent = [event["event_id"] for batch in masivo.batches[before:] for event in batch]
    reopened.destroy()
    return sent


async def test_a_healthy_departure_hands_its_events_off_and_the_next_page_sends_none(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    await client.get_token()  # the service answered: healthy
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(20)]
    await asyncio.sleep(0)
    assert set(stored(site)) == set(ids)  # stored before anything is sent
    unanswered = Unanswered(masivo)
    masivo.script("events", unanswered)
    leave(tab)
    assert stored(site) == {}  # forgotten synchronously, in the handler
    await asyncio.sleep(0)
    assert unanswered.received == ids  # the keepalive request carried them
    close_tab(client)  # the page is gone before the answer
    assert await next_page_sends(site, masivo) == []


async def test_a_request_already_on_the_wire_with_keepalive_is_handed_off_too(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    await client.get_token()
    unanswered = Unanswered(masivo)
    masivo.script("events", unanswered)
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(5)]
    flushing = asyncio.ensure_future(client.flush())
    await until(lambda: unanswered.received)  # the normal flush put them on the wire
    assert set(stored(site)) == set(ids)
    leave(tab)
    assert stored(site) == {}
    close_tab(client)
    flushing.cancel()
    assert await next_page_sends(site, masivo) == []


async def test_a_departure_while_the_service_fails_keeps_its_events_for_the_next_page(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo, policy=QUICK)
    await client.get_token()
    masivo.script("events", json_response(503, {"error": "down"}))
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(10)]
    flushing = asyncio.ensure_future(client.flush())
    await until(lambda: masivo.event_requests)
    await asyncio.sleep(0.01)  # the 503 settled: the events wait for their backoff
    assert all(client.where(event_id) == "queued" for event_id in ids)
    unanswered = Unanswered(masivo)
    masivo.script("events", unanswered)
    leave(tab)
    await asyncio.sleep(0)
    assert unanswered.received == ids  # they went out with the page...
    assert set(stored(site)) == set(ids)  # ...and stay stored: no evidence they arrive
    close_tab(client)
    flushing.cancel()
    assert await next_page_sends(site, masivo) == ids  # sent again: may be counted twice


async def test_a_handed_off_event_whose_request_fails_in_a_live_page_is_stored_again(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo, policy=QUICK)
    await client.get_token()
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(3)]
    answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    masivo.script("events", lambda request: answer)
    tab.document.visibilityState = "hidden"
    tab.document.fire("visibilitychange")  # a tab switched away from: the page lives on
    assert stored(site) == {}
    answer.set_result(json_response(503, {"error": "down"}))
    await asyncio.sleep(0.01)
    assert set(stored(site)) == set(ids)  # back in storage, with its retry
    flushing = asyncio.ensure_future(client.flush())
    await masivo.clock.advance(3)
    await flushing
    assert [e["event_id"] for e in masivo.batches[-1]] == ids
    assert stored(site) == {}
    client.destroy()


async def test_a_service_that_deduplicates_keeps_every_event_stored_until_answered(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo, policy=DeliveryPolicy(service_deduplicates=True))
    await client.get_token()
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(4)]
    unanswered = Unanswered(masivo)
    masivo.script("events", unanswered)
    leave(tab)
    await asyncio.sleep(0)
    assert unanswered.received == ids
    assert set(stored(site)) == set(ids)
    close_tab(client)
    assert await next_page_sends(site, masivo) == ids  # the service keeps each id once


async def test_offline_nothing_is_handed_off(site: Any, masivo: FakeMasivo) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    await client.get_token()
    tab.navigator.onLine = False
    tab.window.fire("offline")
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(3)]
    leave(tab)
    assert set(stored(site)) == set(ids)
    assert masivo.event_requests == []
    close_tab(client)
    tab.navigator.onLine = True
    assert await next_page_sends(site, masivo) == ids
