"""Closing while events arrive (issue: field conditions, item 3): every event is refused at the
call or delivered; ``close(timeout_s)`` sends until nothing is left or the time is up and says
how many it could not send; in a page, those stay stored for the next page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from masivo_web import CloseResult, MasivoConfigError, MasivoError
from masivo_web.engine.token_registry import TokenRegistry
from masivo_web.rules.http import Request, Response
from tests.fakes import FakeLocalStorage, FakeMasivo, client_for, fake_page, json_response, settle
from tests.unit.test_durable import tab_client

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}


def stored(storage: FakeLocalStorage) -> int:
    """How many events the site's storage holds (one line per event in each segment key)."""
    return sum(len(value.split("\n")) - 1 for key, value in storage.data.items() if ":ev:" in key)


def sent(masivo: FakeMasivo) -> int:
    """Events in every request that reached the events route."""
    return sum((request.body or b"").count(b'"event_id"') for request in masivo.event_requests)


def slow_events(masivo: FakeMasivo, seconds: float, times: int = 50) -> None:
    async def later(request: Request) -> Response:
        await masivo.clock.sleep(seconds)
        count = (request.body or b"").count(b'"event_id"')
        return json_response(200, {"data": [{"index": i, "status": 201} for i in range(count)]})

    masivo.script("events", *[later] * times)


async def test_an_event_tracked_while_closing_is_refused_never_accepted_then_dropped(
    masivo: FakeMasivo,
) -> None:
    slow_events(masivo, 1.0)
    client = client_for(masivo)
    before = [client.send_analytics_event(EVENT) for _ in range(3)]
    closing = asyncio.ensure_future(client.close(timeout_s=30))
    await settle()
    with pytest.raises(MasivoConfigError, match="closing"):
        client.send_analytics_event(EVENT)
    await masivo.clock.advance(2)
    result = await closing
    assert result and result.unsent == 0 and result == CloseResult(0)
    assert all([(await delivery).success for delivery in before])
    assert sent(masivo) == 3
    with pytest.raises(MasivoConfigError):
        client.send_analytics_event(EVENT)


async def test_close_sends_until_nothing_is_left_or_the_time_is_up(masivo: FakeMasivo) -> None:
    down = json_response(503, {"error": "Service Unavailable", "details": "down"})
    masivo.script("events", *[down] * 100)
    client = client_for(masivo)
    deliveries = [client.send_analytics_event(EVENT) for _ in range(4)]
    closing = asyncio.ensure_future(client.close(timeout_s=5))
    for _ in range(9):
        await masivo.clock.advance(0.5)
        assert not closing.done()  # it keeps trying for its whole time, not 0.5 s
    await masivo.clock.advance(1)
    result = await closing
    assert not result and result.unsent == 4
    for delivery in deliveries:
        with pytest.raises(MasivoError, match="close"):
            await delivery


async def test_close_returns_as_soon_as_everything_is_sent(masivo: FakeMasivo) -> None:
    slow_events(masivo, 0.2)
    client = client_for(masivo)
    client.send_analytics_event(EVENT)
    closing = asyncio.ensure_future(client.close(timeout_s=60))
    await masivo.clock.advance(0.5)
    assert closing.done() and (await closing).unsent == 0


async def test_in_a_page_what_close_could_not_send_stays_stored_for_the_next_page(
    masivo: FakeMasivo,
) -> None:
    site = FakeLocalStorage()
    down = json_response(503, {"error": "Service Unavailable", "details": "down"})
    masivo.script("events", *[down] * 100)
    page = fake_page(site)
    client = tab_client(page, masivo, tokens=TokenRegistry())
    for _ in range(3):
        client.send_analytics_event(EVENT)
    await settle()
    closing = asyncio.ensure_future(client.close(timeout_s=2))
    await masivo.clock.advance(3)
    assert (await closing).unsent == 3
    assert stored(site) == 3  # kept, as the docstring says, for the next page
    masivo.overrides.clear()
    later = tab_client(fake_page(site), masivo, tokens=TokenRegistry())
    await masivo.clock.advance(30)
    await later.flush()
    assert sum(len(batch) for batch in masivo.batches) == 3
    assert stored(site) == 0
    later.destroy()
