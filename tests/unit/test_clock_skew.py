"""A device clock that is not the service's: events carry the service's time, tokens live their
own life, and nothing loops (issue: field conditions, item 1). The clock here is a fake whose
wall time is ``skew_s`` off the service's; tests/integration/test_clock_skew_process.py moves a
real process's clock with libfaketime, and tests/browser the page's ``Date``."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from masivo_web import DeliveryPolicy, MasivoValidationError, create_client
from masivo_web.browser.liveness import LEASE_TTL_S
from masivo_web.engine.token_registry import TokenRegistry
from masivo_web.rules.http import Request, Response
from masivo_web.rules.ids import format_timestamp
from tests.fakes import (
    API_BASE,
    AUTH_URL,
    FakeClock,
    FakeLocalStorage,
    FakeMasivo,
    fake_page,
    json_response,
    settle,
)
from tests.unit.test_durable import close_tab, tab_client

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
#: Minutes to days off, either way (the issue's +10 min, +2 h and -80 h among them).
SKEWS = [600.0, 7200.0, -80 * 3600.0, 3 * 86400.0 + 17.0, -45.0]


def issued_ats(masivo: FakeMasivo) -> list[float]:
    """The ``issued_at`` of every event Masivo received, as epoch seconds."""
    return [
        datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00")).timestamp()
        for batch in masivo.batches
        for event in batch
    ]


class WindowedMasivo(FakeMasivo):
    """A FakeMasivo that judges ``issued_at`` as Masivo documents: not in the future, not
    older than 72 hours, by its own (true) clock; it counts what it refused."""

    def __init__(self, clock: FakeClock, **options: Any) -> None:
        super().__init__(clock, **options)
        self.refused = 0
        self.authorized_at: list[float] = []

    async def _handle(self, request: Request) -> Response:
        if request.url.endswith("/auth/authorize"):
            self.authorized_at.append(self.clock.now)
            return await super()._handle(request)
        body = json.loads(request.body or b"{}")
        now = self.clock.true_time()
        for event in body.get("events", []):
            moment = datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00"))
            if not now - 72 * 3600 <= moment.timestamp() <= now:
                self.refused += 1
                return json_response(422, {"error": "Invalid event", "details": "issued_at"})
        return await super()._handle(request)


def client_of(masivo: FakeMasivo, **options: Any) -> Any:
    return create_client(
        "client-key",
        auth_url=AUTH_URL,
        api_base=API_BASE,
        transport=masivo.transport,
        clock=masivo.clock,
        random=lambda: 0.0,
        tokens=TokenRegistry(),
        **options,
    )


@pytest.mark.parametrize("skew_s", SKEWS)
async def test_events_carry_the_services_time_whatever_the_device_clock_says(
    skew_s: float,
) -> None:
    clock = FakeClock(skew_s=skew_s)
    masivo = WindowedMasivo(clock)
    async with client_of(masivo) as client:
        created = []
        for _ in range(3):  # the first before any token, the others after
            created.append(clock.true_time())
            delivery = client.send_analytics_event(EVENT)
            await clock.advance(60)
            await client.flush()
            assert (await delivery).success
    assert masivo.refused == 0
    for sent, true in zip(issued_ats(masivo), created, strict=True):
        assert true - 1.0 <= sent <= true  # never ahead of the service, at most 1 s behind


@pytest.mark.parametrize("skew_s", [7200.0, -80 * 3600.0])
async def test_a_wrong_clock_costs_no_extra_authorize(skew_s: float) -> None:
    clock = FakeClock(skew_s=skew_s)
    masivo = WindowedMasivo(clock)
    client = client_of(masivo)
    for _ in range(120):  # ten minutes of one event every 5 s
        client.send_analytics_event(EVENT)
        await clock.advance(5)
    await client.close()
    # One token, refreshed every 5 minutes: as with a right clock.
    assert len(masivo.authorize_requests) <= 3
    assert masivo.refused == 0 and len(issued_ats(masivo)) == 120


@pytest.mark.parametrize("ttl_s", [0.0, -3600.0, 1.0, 12.0])
async def test_a_token_that_looks_expired_on_arrival_cannot_cause_a_storm(ttl_s: float) -> None:
    clock = FakeClock()
    masivo = WindowedMasivo(clock, token_ttl_s=ttl_s)
    client = client_of(masivo)
    for _ in range(120):  # ten minutes of one event every 5 s
        client.send_analytics_event(EVENT)
        await clock.advance(5)
    client.destroy()
    times = masivo.authorized_at
    assert len(times) <= 600 / 30 + 1
    assert all(later - earlier >= 30.0 for earlier, later in itertools.pairwise(times))


async def test_a_failing_authorize_backs_off() -> None:
    clock = FakeClock()
    masivo = WindowedMasivo(clock)
    down = json_response(503, {"error": "Service Unavailable", "details": "down"})
    masivo.script("authorize", *[down] * 1000)
    client = client_of(masivo)
    for _ in range(120):  # an hour of one event every 30 s
        client.send_analytics_event(EVENT)
        await clock.advance(30)
    client.destroy()
    gaps = [b - a for a, b in itertools.pairwise(masivo.authorized_at)]
    assert len(masivo.authorized_at) <= 20  # 1 s doubling to 10 minutes
    assert gaps[-1] >= 400 and gaps[-2] >= 400  # capped near 10 minutes, not hammering


async def test_a_first_authorize_that_fails_is_tried_again_within_seconds() -> None:
    clock = FakeClock()
    masivo = WindowedMasivo(clock)
    masivo.script("authorize", json_response(503, {"error": "down", "details": "blip"}))
    client = client_of(masivo)
    delivery = client.send_analytics_event(EVENT)
    await clock.advance(3)
    await client.flush()
    assert (await delivery).success and masivo.authorized_at[1] - masivo.authorized_at[0] <= 5
    client.destroy()


async def test_a_401_on_every_send_is_bounded() -> None:
    clock = FakeClock()
    masivo = WindowedMasivo(clock)
    unauthorized = json_response(401, {"error": "Unauthorized", "details": "revoked"})
    masivo.script("events", *[unauthorized] * 10_000)
    client = client_of(masivo, policy=DeliveryPolicy(max_attempts=1000, backoff_cap_s=1.0))
    for _ in range(60):
        client.send_analytics_event(EVENT)
        await clock.advance(10)
    client.destroy()
    # At most two authorize requests per 30 s floor (a rejected token is replaced at once once).
    assert len(masivo.authorize_requests) <= 2 * (600 / 30) + 2


@pytest.mark.parametrize("skew_s", [7200.0, -80 * 3600.0])
async def test_events_queued_before_the_first_answer_are_stamped_again(skew_s: float) -> None:
    clock = FakeClock(skew_s=skew_s)
    masivo = WindowedMasivo(clock)
    gate = masivo.authorize_delay = asyncio.Event()
    client = client_of(masivo)
    first_true = clock.true_time()
    deliveries = [client.send_analytics_event(EVENT)]
    await clock.advance(40)  # the authorize answer is slow
    deliveries.append(client.send_analytics_event(EVENT))
    await clock.advance(3)
    gate.set()
    await settle()
    await client.flush()
    assert all([(await delivery).success for delivery in deliveries])
    first, second = issued_ats(masivo)
    assert first_true - 1 <= first <= first_true
    assert first_true + 39 <= second <= first_true + 40
    await client.close()


async def test_a_closed_pages_events_keep_their_true_time_on_the_next_page() -> None:
    clock = FakeClock(skew_s=-7200.0)  # the visitor's clock is 2 hours behind
    masivo = WindowedMasivo(clock)
    site = FakeLocalStorage()
    masivo.authorize_delay = asyncio.Event()  # no answer before the tab closes
    first = tab_client(fake_page(site), masivo, tokens=TokenRegistry())
    queued_true = clock.true_time()
    first.send_analytics_event(EVENT)
    await settle()
    close_tab(first)  # the event stays stored, stamped with the device's time
    masivo.authorize_delay = None
    await clock.advance(600)  # the visitor comes back ten minutes later
    later = tab_client(fake_page(site), masivo, tokens=TokenRegistry())
    await clock.advance(LEASE_TTL_S + 10)
    await later.flush()
    (sent,) = issued_ats(masivo)
    assert queued_true - 1 <= sent <= queued_true + 1
    assert masivo.refused == 0
    later.destroy()


async def test_the_tabs_next_page_knows_the_services_time_from_its_kept_token() -> None:
    clock = FakeClock(skew_s=7200.0)
    masivo = WindowedMasivo(clock)
    site, tab = FakeLocalStorage(), FakeLocalStorage()
    first = client_of(masivo, page=fake_page(site, session=tab))
    await settle()
    first.destroy()
    await clock.advance(120)
    page = fake_page(site, session=tab)
    later = client_of(masivo, page=page)
    true = clock.true_time()
    later.send_analytics_event(EVENT)
    page.window.fire("pagehide")  # at once: the kept token, no new authorize
    await settle()
    assert len(masivo.authorize_requests) == 1
    (sent,) = issued_ats(masivo)
    assert true - 1 <= sent <= true
    later.destroy()


async def test_a_kept_token_expires_by_its_own_life_not_the_device_clock() -> None:
    clock = FakeClock(skew_s=-3 * 3600.0)  # 3 h behind: exp looks 4 h away
    masivo = WindowedMasivo(clock, token_ttl_s=600.0)
    site, tab = FakeLocalStorage(), FakeLocalStorage()
    first = client_of(masivo, page=fake_page(site, session=tab))
    await settle()
    first.destroy()
    await clock.advance(700)  # the token's 10 minutes are over
    later = client_of(masivo, page=fake_page(site, session=tab))
    await settle()
    assert len(masivo.authorize_requests) == 2  # not the dead one
    later.destroy()


async def test_without_iat_the_date_header_gives_the_services_time() -> None:
    clock = FakeClock(skew_s=7200.0)
    masivo = WindowedMasivo(clock, with_iat=False, send_date=True)
    async with client_of(masivo) as client:
        await clock.advance(0.4)
        client.send_analytics_event(EVENT)
        await client.flush()
        true = clock.true_time()
        client.send_analytics_event(EVENT)
    assert masivo.refused == 0
    assert true - 1.0 <= issued_ats(masivo)[-1] <= true


async def test_with_no_word_of_the_services_time_tokens_still_refresh_normally() -> None:
    clock = FakeClock(skew_s=7200.0)  # exp looks passed by the device clock
    masivo = FakeMasivo(clock, with_iat=False)
    client = client_of(masivo)
    for _ in range(60):
        client.send_analytics_event(EVENT)
        await clock.advance(10)
    await client.close()
    assert len(masivo.authorize_requests) <= 3  # every 5 minutes, not on every batch
    assert len(issued_ats(masivo)) == 60


async def test_an_issued_at_given_is_the_apps() -> None:
    clock = FakeClock(skew_s=86400.0)
    masivo = WindowedMasivo(clock)
    given_epoch = clock.true_time() - 3600
    given = format_timestamp(given_epoch)
    async with client_of(masivo) as client:
        # Before the service's time is known, only the format is checked.
        client.send_analytics_event(EVENT, issued_at=given)
        await client.flush()
        assert issued_ats(masivo) == [given_epoch]
        # Once known, a time Masivo would refuse is refused at the call, by the service's time.
        old = datetime.fromtimestamp(clock.true_time(), UTC) - timedelta(hours=73)
        with pytest.raises(MasivoValidationError, match="older than 72 hours"):
            client.send_analytics_event(EVENT, issued_at=old)
        ahead = datetime.fromtimestamp(clock.true_time(), UTC) + timedelta(hours=1)
        with pytest.raises(MasivoValidationError, match="future"):
            client.send_analytics_event(EVENT, issued_at=ahead)
        # By the device's clock (a day ahead) this one is in the future; by Masivo's it is not.
        client.send_analytics_event(EVENT, issued_at=given)
