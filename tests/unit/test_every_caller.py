"""Every caller is a user: an awaiter that gives up, a failing sibling task, a refused key, the
error a support ticket needs. Each test here was a bug report first."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from masivo_web import MasivoAuthError, MasivoError
from masivo_web.rules.http import Request, Response
from tests.fakes import (
    AUTH_URL,
    FakeClock,
    FakeMasivo,
    client_for,
    flush_while_time_passes,
    json_response,
    settle,
)

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "customer-123", "brand_id": None}


def slow_events(masivo: FakeMasivo, seconds: float) -> None:
    """The events route answers only after ``seconds`` of the fake clock."""

    async def later(request: Request) -> Response:
        await masivo.clock.sleep(seconds)
        body = request.body or b""
        count = body.count(b'"event_id"')
        return json_response(200, {"data": [{"index": i, "status": 201} for i in range(count)]})

    masivo.script("events", later, later, later)


async def give_up_on(awaitable: Any) -> None:
    """An awaiter that stops waiting: ``wait_for`` cancels its wrapper task."""
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(awaitable, 0.01)


# -- 1. a cancelled awaiter never affects delivery --------------------------------------------


async def test_an_awaiter_that_gives_up_does_not_break_its_batch(masivo: FakeMasivo) -> None:
    slow_events(masivo, 1.0)
    client = client_for(masivo)
    first = client.send_analytics_event(EVENT)
    second = client.send_analytics_event(EVENT)
    await give_up_on(first)  # the batch is on the wire when the awaiter leaves
    await masivo.clock.advance(1.0)
    assert (await second).success
    assert (await first).success  # the event itself was delivered all the same
    await client.flush()  # returns: nothing pending
    assert await client.close(1.0) == True  # noqa: E712  # a CloseResult


async def test_an_awaiter_that_gives_up_while_its_event_is_queued(masivo: FakeMasivo) -> None:
    masivo.authorize_delay = asyncio.Event()  # nothing can be sent yet
    client = client_for(masivo)
    first = client.send_analytics_event(EVENT)
    second = client.send_analytics_event(EVENT)
    await give_up_on(first)
    client.destroy()  # must not raise; fails what is left
    with pytest.raises(MasivoError, match="destroyed"):
        await second
    with pytest.raises(MasivoError, match="destroyed"):
        await first


async def test_a_failing_task_group_sibling_does_not_break_delivery(masivo: FakeMasivo) -> None:
    slow_events(masivo, 1.0)
    client = client_for(masivo)
    first = client.send_analytics_event(EVENT)
    second = client.send_analytics_event(EVENT)

    async def wait_first() -> None:
        await first

    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("sibling failed")

    async def group_with_a_failing_sibling() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(wait_first())
            group.create_task(fail())

    with pytest.raises(ExceptionGroup):
        await group_with_a_failing_sibling()
    await masivo.clock.advance(1.0)
    assert (await second).success and (await first).success
    assert await client.close(1.0) == True  # noqa: E712  # a CloseResult


async def test_asyncio_timeout_around_an_await_leaves_the_event_deliverable(
    masivo: FakeMasivo,
) -> None:
    slow_events(masivo, 1.0)
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await delivery
    await masivo.clock.advance(1.0)
    assert (await delivery).success
    client.destroy()


async def test_close_with_a_timeout_says_false_while_an_event_is_pending(
    masivo: FakeMasivo,
) -> None:
    slow_events(masivo, 100.0)
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    closing = asyncio.get_running_loop().create_task(client.close(5.0))
    await masivo.clock.advance(5.0)
    result = await closing
    assert result == False and result.unsent == 1  # noqa: E712  # a CloseResult
    with pytest.raises(MasivoError, match="close"):
        await delivery


async def test_destroy_never_raises_and_always_releases_the_token(masivo: FakeMasivo) -> None:
    slow_events(masivo, 100.0)
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await give_up_on(delivery)  # the batch is on the wire, its awaiter gone
    assert len(masivo.authorize_requests) == 1
    client.destroy()
    client.destroy()
    await masivo.clock.advance(3600)  # no refresh: the token was released with the client
    assert len(masivo.authorize_requests) == 1


# -- 4. the final error keeps its context ------------------------------------------------------


async def test_giving_up_keeps_the_code_request_id_and_cause(masivo: FakeMasivo) -> None:
    failing = json_response(
        503, {"error": "Service Unavailable", "details": "busy"}, {"x-request-id": "req-42"}
    )
    masivo.script("events", *([failing] * 10))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await flush_while_time_passes(client, masivo.clock)
    with pytest.raises(MasivoError) as caught:
        await delivery
    error = caught.value
    assert (error.status, error.code, error.request_id) == (503, "Service Unavailable", "req-42")
    assert error.details == "busy"
    assert "Gave up after 10 attempts" in error.message
    assert "will be retried" not in error.message
    assert isinstance(error.__cause__, MasivoError) and error.__cause__.request_id == "req-42"
    client.destroy()


# -- 5. a refused key is tried again later, not remembered for ever ---------------------------


async def test_a_refused_key_is_tried_again_after_a_backoff(masivo: FakeMasivo) -> None:
    masivo.script("authorize", json_response(401, {"error": "Unauthorized", "details": "revoked"}))
    client = client_for(masivo)
    with pytest.raises(MasivoAuthError):
        await client.get_token()
    with pytest.raises(MasivoAuthError):  # at once again: within the backoff, no new request
        await client.get_token()
    assert len(masivo.authorize_requests) == 1
    await masivo.clock.advance(120)
    assert await client.get_token() == masivo.tokens_issued[0]  # the key works again
    client.destroy()


async def test_a_leaked_client_of_a_refused_key_does_not_poison_a_new_one(
    clock: FakeClock,
) -> None:
    refusing = FakeMasivo(clock)
    refusing.script("authorize", json_response(401, {"error": "Unauthorized"}))
    leaked = client_for(refusing)
    with pytest.raises(MasivoAuthError):
        await leaked.get_token()
    working = FakeMasivo(clock)  # another test, another server: the same key is fine there
    fresh = client_for(working)
    assert await fresh.get_token() == working.tokens_issued[0]
    fresh.destroy()
    leaked.destroy()


def test_the_auth_error_docstring_says_what_a_second_401_does() -> None:
    doc = MasivoAuthError.__doc__ or ""
    assert "retried" in doc and "401" in doc


async def test_flush_returns_after_an_awaiter_gave_up(masivo: FakeMasivo) -> None:
    slow_events(masivo, 1.0)
    client = client_for(masivo)
    first = client.send_analytics_event(EVENT)
    client.send_analytics_event(EVENT)
    await give_up_on(first)
    flushing = asyncio.get_running_loop().create_task(client.flush())
    await masivo.clock.advance(2.0)
    await settle()
    assert flushing.done()
    client.destroy()


# -- messages a user can act on ----------------------------------------------------------------


async def test_a_wrong_auth_url_is_final_at_once_and_named(masivo: FakeMasivo) -> None:
    masivo.script("authorize", json_response(404, {"error": "Not Found"}))
    reported: list[MasivoError] = []
    client = client_for(masivo, on_error=lambda error, event_id: reported.append(error))
    delivery = client.send_analytics_event(EVENT)
    await client.flush()  # no 3.5 minutes of retries
    with pytest.raises(MasivoError, match=AUTH_URL) as caught:
        await delivery
    assert caught.value.status == 404 and "auth_url" in caught.value.message
    assert len(masivo.authorize_requests) == 1
    client.destroy()


async def test_each_retry_says_why_and_when_the_next_try_is(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    busy = json_response(503, {"error": "Service Unavailable"})
    masivo.script("events", *[busy] * 9)  # an outage of minutes: 9 failed tries, then success
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    with caplog.at_level(logging.DEBUG, logger="masivo_web"):
        await flush_while_time_passes(client, masivo.clock)
    assert (await delivery).success
    retries = [r for r in caplog.records if "not delivered yet" in r.getMessage()]
    assert len(retries) == 9
    assert all("503" in r.getMessage() and "next try in" in r.getMessage() for r in retries)
    # A warning at the 1st, 2nd, 4th and 8th retry (the outage stays visible as it lasts),
    # INFO for the others (a flaky network does not flood the log).
    warned = [r.getMessage().split("attempt ")[1] for r in retries if r.levelno == logging.WARNING]
    assert warned == ["2 of 10)", "3 of 10)", "5 of 10)", "9 of 10)"]
    assert {r.levelno for r in retries} == {logging.WARNING, logging.INFO}
    client.destroy()
