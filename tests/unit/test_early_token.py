"""A token before the first event, kept for the tab: a page can send at page hide from its
first millisecond (with a fake page under CPython; the same in Chromium: tests/browser)."""

from __future__ import annotations

import json
from typing import Any

from masivo_web import create_client
from masivo_web.browser.page import Page
from masivo_web.engine.token_registry import TokenRegistry
from tests.fakes import FakeLocalStorage, FakeMasivo, fake_page, json_response, make_token, settle

KEY = "client-key-never-stored"
EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}


def open_page(masivo: FakeMasivo, page: Page) -> Any:
    """A new page of the site: its own interpreter (so its own token registry)."""
    return create_client(
        KEY, transport=masivo.transport, clock=masivo.clock, page=page, tokens=TokenRegistry()
    )


def leave(page: Page) -> None:
    page.window.fire("pagehide")


async def test_a_page_authorizes_as_soon_as_the_loop_runs(masivo: FakeMasivo) -> None:
    client = open_page(masivo, fake_page(FakeLocalStorage(), session=FakeLocalStorage()))
    assert masivo.transport.requests == []  # create_client itself sends nothing
    await settle()
    assert len(masivo.authorize_requests) == 1  # before any event
    client.destroy()


async def test_a_later_page_of_the_tab_sends_at_once_with_the_kept_token(
    masivo: FakeMasivo,
) -> None:
    site, tab = FakeLocalStorage(), FakeLocalStorage()
    first = open_page(masivo, fake_page(site, session=tab))
    await settle()
    (token,) = masivo.tokens_issued
    first.destroy()  # the visitor follows a link: same tab, next page
    page = fake_page(site, session=tab)
    later = open_page(masivo, page)
    deliveries = [later.send_analytics_event(EVENT) for _ in range(30)]
    leave(page)  # in the same turn: no loop turn, no authorize round trip
    (request,) = masivo.event_requests
    assert request.keepalive and request.headers["authorization"] == f"Bearer {token}"
    assert len(json.loads(request.body or b"")["events"]) == 30
    assert len(masivo.authorize_requests) == 1  # the kept token, not a new one
    await settle()
    assert all(delivery.done() for delivery in deliveries)
    later.destroy()


async def test_the_token_stays_in_the_tab_and_no_key_is_written(masivo: FakeMasivo) -> None:
    site, tab = FakeLocalStorage(), FakeLocalStorage()
    client = open_page(masivo, fake_page(site, session=tab))
    await settle()
    (token,) = masivo.tokens_issued
    assert not any(token in value for value in site.data.values())  # never localStorage
    assert any(token in value for value in tab.data.values())  # the tab's sessionStorage
    for store in (site, tab):
        assert not any(KEY in key or KEY in value for key, value in store.data.items())
    client.destroy()


async def test_an_expired_kept_token_is_not_used(masivo: FakeMasivo) -> None:
    tab = FakeLocalStorage()
    client = open_page(masivo, fake_page(FakeLocalStorage(), session=tab))
    await settle()
    client.destroy()
    await masivo.clock.advance(3600)  # the kept token's hour is over
    page = fake_page(FakeLocalStorage(), session=tab)
    later = open_page(masivo, page)
    later.send_analytics_event(EVENT)
    leave(page)
    assert masivo.event_requests == []  # no request with an expired token
    await settle()
    assert len(masivo.authorize_requests) == 2
    later.destroy()


async def test_a_kept_token_the_server_refuses_is_forgotten(masivo: FakeMasivo) -> None:
    tab = FakeLocalStorage()
    open_page(masivo, fake_page(FakeLocalStorage(), session=tab))
    await settle()
    refused = masivo.tokens_issued[0]
    masivo.script("events", json_response(401, {"error": "Unauthorized"}))
    client = open_page(masivo, fake_page(FakeLocalStorage(), session=tab))
    delivery = client.send_analytics_event(EVENT)
    await client.flush()
    assert (await delivery).success  # re-authorized once, sent once more
    assert not any(refused in value for value in tab.data.values())
    assert any(masivo.tokens_issued[-1] in value for value in tab.data.values())
    client.destroy()


async def test_a_kept_token_refreshes_on_its_own_schedule(masivo: FakeMasivo) -> None:
    tab = FakeLocalStorage()
    open_page(masivo, fake_page(FakeLocalStorage(), session=tab))
    await settle()
    await masivo.clock.advance(120)  # two minutes later, the next page
    later = open_page(masivo, fake_page(FakeLocalStorage(), session=tab))
    await settle()
    assert len(masivo.authorize_requests) == 1  # not due yet: refreshed 5 min after issue
    await masivo.clock.advance(180)
    assert len(masivo.authorize_requests) >= 2
    later.destroy()


def test_unreadable_kept_tokens_are_ignored() -> None:
    from masivo_web.rules.ports import MemoryStorage
    from masivo_web.rules.token_state import KeptToken, TabToken

    storage = MemoryStorage()
    kept = TabToken(storage, "name")
    assert kept.load() is None
    storage.set("name", "not-a-number|token")
    assert kept.load() is None
    kept.save(KeptToken(make_token(None), 12.5, None))
    assert kept.load() == KeptToken(make_token(None), 12.5, None)
    kept.save(KeptToken(make_token(None), 12.5, -7200.25))
    assert kept.load() == KeptToken(make_token(None), 12.5, -7200.25)
    storage.set("name", f"12.5|{make_token(None)}")  # as an earlier version kept it
    assert kept.load() == KeptToken(make_token(None), 12.5, None)
