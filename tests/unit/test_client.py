"""The @masivo/core behaviours, on the mock transport and a fake clock (no wall-time waits)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest

from masivo_web import (
    MasivoAuthError,
    MasivoConfigError,
    MasivoError,
    MasivoNetworkError,
    MasivoServerKeyError,
    MasivoValidationError,
    SendEventResult,
    create_client,
)
from masivo_web.engine.token_registry import TokenRegistry
from masivo_web.rules.http import Request, Response
from masivo_web.rules.policy import DeliveryPolicy
from masivo_web.runtime.interpreter import IS_BROWSER
from masivo_web.transports import MockTransport
from tests.fakes import (
    API_BASE,
    AUTH_URL,
    FakeClock,
    FakeMasivo,
    client_for,
    flush_while_time_passes,
    json_response,
    settle,
)

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "customer-123", "brand_id": None}
MAX_ATTEMPTS = DeliveryPolicy().max_attempts
MAX_IN_FLIGHT = DeliveryPolicy().max_in_flight


def sent_events(masivo: FakeMasivo) -> list[dict[str, Any]]:
    return [event for batch in masivo.batches for event in batch]


# -- creation and the event loop --------------------------------------------------------------


ALWAYS_A_LOOP = pytest.mark.skipif(
    IS_BROWSER, reason="in Pyodide the WebLoop always exists, so 'no event loop' cannot happen"
)


@ALWAYS_A_LOOP
def test_create_client_needs_no_event_loop_and_sends_nothing(masivo: FakeMasivo) -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    client = client_for(masivo)
    assert masivo.transport.requests == []
    assert "client-key" not in repr(client) and "client-key" not in repr(client.settings)


@ALWAYS_A_LOOP
def test_sending_without_a_running_loop_says_how_to_send_from_sync_code(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    with pytest.raises(MasivoConfigError, match=r"SyncClient.*asyncio\.run"):
        client.send_analytics_event(EVENT)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": ""}, "API key"),
        ({"api_key": None}, "API key"),
        ({"api_key": " key "}, "whitespace"),
        ({"brand_id": 5}, "brand_id"),
        ({"auth_url": "api.masivo.ai/auth"}, "auth_url"),
        ({"api_base": "ftp://x"}, "api_base"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 101}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"idle_flush_s": 0}, "idle_flush_s"),
        ({"max_wait_s": float("inf")}, "max_wait_s"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"timeout_s": "10"}, "timeout_s"),
        ({"event_route": "bulk"}, "event_route"),
        ({"transport": object()}, "transport"),
        ({"compression": "br"}, "compression"),
        ({"compression": True}, "compression"),
        ({"auth_url": "https://"}, "auth_url"),
        ({"api_base": "https://app .masivo.ai/api"}, "api_base"),
        # an unknown option names the nearest known one
        ({"batchsize": 10}, "Unknown option 'batchsize'.*did you mean batch_size"),
        ({"on_errors": print}, "did you mean on_error"),
        ({"zzz": 1}, "Unknown option 'zzz'; the options are: "),
        # the seams' types, checked at once rather than failing later inside a send
        ({"storage": 5}, "storage must have get, set, remove and keys"),
        ({"clock": "now"}, "clock must have time, monotonic and sleep"),
        ({"random": 0.5}, "random must be a function"),
        ({"tokens": {}}, "tokens must be a TokenRegistry"),
        ({"page": "window"}, "page must be a Page"),
        ({"debug": "x"}, "debug must be True or False"),
        ({"debug": 1}, "debug must be True or False"),
    ],
)
def test_bad_settings_raise_config_errors_at_once(options: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"api_key": "k"} | options
    with pytest.raises(MasivoConfigError, match=message):
        create_client(arguments.pop("api_key"), **arguments)


# -- authorization ----------------------------------------------------------------------------


async def test_first_event_exchanges_the_key_for_a_token_with_the_client_sdk_header(
    masivo: FakeMasivo,
) -> None:
    async with client_for(masivo) as client:
        result = await asyncio.gather(client.send_analytics_event(EVENT), client.flush())
    (authorize,) = masivo.authorize_requests
    assert authorize.method == "GET" and authorize.url == AUTH_URL
    assert authorize.headers == {"x-api-key": "client-key", "x-masivo-sdk": "client"}
    (post,) = masivo.event_requests
    assert post.url == f"{API_BASE}/analytics/events"
    assert post.headers["authorization"] == f"Bearer {masivo.tokens_issued[0]}"
    assert post.headers["content-type"] == "application/json"
    assert result[0] == SendEventResult(
        True, 201, {"index": 0, "status": 201, "id": sent_events(masivo)[0]["event_id"]}
    )


async def test_get_token_returns_the_shared_bearer_token(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    assert await client.get_token() == masivo.tokens_issued[0]
    assert await client.get_token() == masivo.tokens_issued[0]
    assert len(masivo.authorize_requests) == 1
    client.destroy()


async def test_a_server_key_fails_every_event_and_is_asked_again_only_later(
    masivo: FakeMasivo,
) -> None:
    forbidden = json_response(403, {"error": "Forbidden", "details": "server key"})
    masivo.script("authorize", forbidden, forbidden)
    client = client_for(masivo)
    first = client.send_analytics_event(EVENT)
    await client.flush()
    with pytest.raises(MasivoServerKeyError, match="CLIENT key"):
        await first
    second = client.send_analytics_event(EVENT)
    await client.flush()
    await masivo.clock.advance(3600)
    with pytest.raises(MasivoServerKeyError):
        await second
    assert len(masivo.authorize_requests) == 1  # the second event met the refusal at once
    with pytest.raises(MasivoServerKeyError):
        await client.get_token()  # the next use after the backoff asks Masivo again
    assert len(masivo.authorize_requests) == 2
    assert masivo.event_requests == []
    client.destroy()


async def test_an_unknown_key_is_an_auth_error_with_status_and_details(masivo: FakeMasivo) -> None:
    masivo.script(
        "authorize", json_response(401, {"error": "Unauthorized", "details": "Unknown API key."})
    )
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await client.flush()
    with pytest.raises(MasivoAuthError) as caught:
        await delivery
    assert (caught.value.status, caught.value.details) == (401, "Unknown API key.")
    assert not isinstance(caught.value, MasivoServerKeyError)
    client.destroy()


async def test_clients_of_one_key_share_one_token_and_one_refresh_timer(masivo: FakeMasivo) -> None:
    tokens = TokenRegistry()
    first, second = client_for(masivo, tokens=tokens), client_for(masivo, tokens=tokens)
    other_key = client_for(masivo, key="other-key", tokens=tokens)
    assert await first.get_token() == await second.get_token()
    await other_key.get_token()
    assert len(masivo.authorize_requests) == 2  # one per key
    await masivo.clock.advance(300)
    assert len(masivo.authorize_requests) == 4  # one refresh per key, not per client
    first.destroy()
    assert len(tokens) == 2  # client-key's manager is still used by `second`
    second.destroy()
    assert len(tokens) == 1  # only other-key's
    await masivo.clock.advance(3600)
    assert len(masivo.authorize_requests) == 4 + 12  # only other-key refreshes now
    other_key.destroy()
    assert len(tokens) == 0
    third = client_for(masivo, tokens=tokens)
    await third.get_token()
    assert masivo.authorize_requests[-1].headers["x-api-key"] == "client-key"
    third.destroy()


async def test_concurrent_first_sends_share_one_authorize(masivo: FakeMasivo) -> None:
    masivo.authorize_delay = asyncio.Event()
    clients = [client_for(masivo) for _ in range(3)]
    deliveries = [client.send_analytics_event(EVENT) for client in clients]
    flushes = asyncio.gather(*(client.flush() for client in clients))
    await settle()
    masivo.authorize_delay.set()
    await flushes
    assert len(masivo.authorize_requests) == 1
    assert all(result.success for result in await asyncio.gather(*deliveries))
    for client in clients:
        client.destroy()


async def test_token_is_refreshed_every_5_minutes_in_the_background(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    await client.get_token()
    await masivo.clock.advance(299)
    assert len(masivo.authorize_requests) == 1
    await masivo.clock.advance(1)
    assert len(masivo.authorize_requests) == 2
    assert await client.get_token() == masivo.tokens_issued[1]
    client.destroy()
    await masivo.clock.advance(3600)
    assert len(masivo.authorize_requests) == 2  # destroy() stopped the timer


async def test_a_short_lived_token_is_refreshed_5_minutes_before_exp(clock: FakeClock) -> None:
    masivo = FakeMasivo(clock, token_ttl_s=420)
    client = client_for(masivo)
    await client.get_token()
    await clock.advance(119)
    assert len(masivo.authorize_requests) == 1
    await clock.advance(1)
    assert len(masivo.authorize_requests) == 2
    client.destroy()


async def test_a_failed_refresh_keeps_the_valid_token_and_tries_again(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    token = await client.get_token()
    masivo.script("authorize", json_response(503, {"error": "Unavailable"}))
    await masivo.clock.advance(300)
    assert await client.get_token() == token
    await masivo.clock.advance(30)
    assert await client.get_token() == masivo.tokens_issued[1]
    client.destroy()


async def test_a_401_invalidates_the_token_reauthorizes_once_and_retries_once(
    masivo: FakeMasivo,
) -> None:
    masivo.script("events", json_response(401, {"error": "Unauthorized", "details": "expired"}))
    async with client_for(masivo) as client:
        delivery = client.send_analytics_event(EVENT)
    assert (await delivery).success
    assert len(masivo.authorize_requests) == 2
    first_post, second_post = masivo.event_requests
    assert first_post.headers["authorization"] == f"Bearer {masivo.tokens_issued[0]}"
    assert second_post.headers["authorization"] == f"Bearer {masivo.tokens_issued[1]}"
    assert first_post.body == second_post.body  # same events, same event_ids


async def test_a_second_401_is_retried_later_not_dropped(masivo: FakeMasivo) -> None:
    unauthorized = json_response(401, {"error": "Unauthorized", "details": "revoked"})
    masivo.script("events", unauthorized, unauthorized)  # 401, fresh token, 401 again
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await flush_while_time_passes(client, masivo.clock)
    assert (await delivery).success
    assert (len(masivo.authorize_requests), len(masivo.event_requests)) == (2, 3)
    client.destroy()


async def test_a_401_that_persists_fails_the_events_as_an_auth_error(masivo: FakeMasivo) -> None:
    unauthorized = json_response(401, {"error": "Unauthorized", "details": "revoked"})
    masivo.script("events", *[unauthorized] * (2 * MAX_ATTEMPTS))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await flush_while_time_passes(client, masivo.clock)
    with pytest.raises(MasivoAuthError, match="freshly issued token") as caught:
        await delivery
    assert caught.value.details == "revoked"
    assert "Gave up after" in caught.value.message
    assert len(masivo.event_requests) == 2 * MAX_ATTEMPTS
    client.destroy()


# -- batching ---------------------------------------------------------------------------------


async def test_250_events_go_out_as_100_100_50_after_one_authorize(masivo: FakeMasivo) -> None:
    async with client_for(masivo) as client:
        for index in range(250):
            client.send_analytics_event(EVENT, metadata={"n": index})
    assert [len(batch) for batch in masivo.batches] == [100, 100, 50]
    assert [event["metadata"]["n"] for event in sent_events(masivo)] == list(range(250))
    assert len(masivo.authorize_requests) == 1


async def test_100_queued_events_flush_without_waiting(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    for _ in range(99):
        client.send_analytics_event(EVENT)
    await settle()
    assert masivo.batches == []
    client.send_analytics_event(EVENT)
    await settle()
    assert [len(batch) for batch in masivo.batches] == [100]
    client.destroy()


async def test_idle_flush_after_30_s_without_new_events(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    client.send_analytics_event(EVENT)
    await masivo.clock.advance(20)
    client.send_analytics_event(EVENT)
    await masivo.clock.advance(29.9)
    assert masivo.batches == []
    await masivo.clock.advance(0.1)
    assert [len(batch) for batch in masivo.batches] == [2]
    client.destroy()


async def test_max_wait_flushes_after_60_s_even_with_steady_traffic(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    for _ in range(6):
        client.send_analytics_event(EVENT)
        await masivo.clock.advance(10)
    assert [len(batch) for batch in masivo.batches] == [6]
    assert masivo.clock.now == 60
    client.destroy()


async def test_flush_sends_at_once_and_waits_for_the_answer(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await client.flush()
    assert delivery.done() and len(masivo.batches) == 1
    assert masivo.clock.now == 0
    await client.flush()  # nothing queued: returns at once, sends nothing
    assert len(masivo.batches) == 1
    client.destroy()


async def test_brand_default_is_injected_for_events_with_a_platform(masivo: FakeMasivo) -> None:
    async with client_for(masivo, brand_id="brand-456") as client:
        client.send_analytics_event(type="ADD_TO_CART", customer_id="c", platform="web")
        client.send_analytics_event(
            type="ADD_TO_CART", customer_id="c", brand_id=None, platform="web"
        )
        with pytest.raises(MasivoValidationError, match="brand_id"):
            client.send_analytics_event(type="ADD_TO_CART", customer_id="c")
    assert [event["brand_id"] for event in sent_events(masivo)] == ["brand-456", None]


async def test_reserved_types_never_leave_and_queued_events_are_untouched(
    masivo: FakeMasivo,
) -> None:
    async with client_for(masivo) as client:
        queued = client.send_analytics_event(EVENT)
        for reserved in (
            "PURCHASE",
            "ABANDONED_CART",
            "BIRTHDAY",
            "REGISTRATION",
            "TIER_ADJUSTMENT",
        ):
            with pytest.raises(MasivoValidationError, match="SERVER key"):
                client.send_analytics_event(type=reserved, customer_id="c", brand_id=None)
    assert (await queued).success
    assert [event["type"] for event in sent_events(masivo)] == ["ADD_TO_CART"]


async def test_the_behavior_route_sends_each_event_alone(masivo: FakeMasivo) -> None:
    async with client_for(masivo, event_route="behavior") as client:
        deliveries = [client.send_analytics_event(EVENT) for _ in range(3)]
    assert [r.url for r in masivo.event_requests] == [f"{API_BASE}/behavior/events"] * 3
    results = [await delivery for delivery in deliveries]
    assert all(result.status == 201 and result.data["status"] == "PENDING" for result in results)


# -- failures and retries ---------------------------------------------------------------------


async def test_retryable_answers_are_retried_with_the_same_event_ids(masivo: FakeMasivo) -> None:
    masivo.script(
        "events", json_response(503, {"error": "Unavailable"}), Response(502, body=b"<html>")
    )
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    flushing = asyncio.get_running_loop().create_task(client.flush())
    await masivo.clock.advance(0.5)  # first backoff, with random() == 0
    assert len(masivo.event_requests) == 2 and not flushing.done()
    await masivo.clock.advance(1.0)  # second backoff: doubled
    await flushing  # flush() waited through both backoffs
    assert (await delivery).success
    bodies = {request.body for request in masivo.event_requests}
    assert len(masivo.event_requests) == 3 and len(bodies) == 1
    client.destroy()


async def test_retry_after_is_honoured(masivo: FakeMasivo) -> None:
    masivo.script("events", json_response(429, {"error": "Slow down"}, {"retry-after": "20"}))
    client = client_for(masivo)
    client.send_analytics_event(EVENT)
    asyncio.get_running_loop().create_task(client.flush())
    await masivo.clock.advance(19.9)
    assert len(masivo.event_requests) == 1
    await masivo.clock.advance(0.1)
    assert len(masivo.event_requests) == 2
    client.destroy()


async def test_a_burst_goes_out_in_concurrent_batches_and_a_429_holds_them_all(
    masivo: FakeMasivo,
) -> None:
    gate = asyncio.Event()
    in_flight = most = posts = 0

    async def slow(request: Request) -> Response:
        nonlocal in_flight, most, posts
        if request.url == AUTH_URL:
            return await masivo.handle(request)
        posts += 1
        in_flight += 1
        most = max(most, in_flight)
        await gate.wait()
        in_flight -= 1
        return await masivo.handle(request)

    client = create_client(
        "client-key",
        auth_url=AUTH_URL,
        api_base=API_BASE,
        transport=MockTransport(slow),
        clock=masivo.clock,
        random=lambda: 0.0,
    )
    await client.get_token()
    deliveries = [client.send_analytics_event(EVENT) for _ in range(100 * (MAX_IN_FLIGHT + 2))]
    await settle()
    assert most == MAX_IN_FLIGHT  # not one request at a time, and not all of them at once
    gate.set()
    await client.flush()
    assert all(d.done() for d in deliveries)
    assert len(masivo.batches) == MAX_IN_FLIGHT + 2

    masivo.script("events", json_response(429, {"error": "Slow down"}, {"retry-after": "20"}))
    first = client.send_analytics_event(EVENT)
    flushing = asyncio.get_running_loop().create_task(client.flush())
    await settle()
    client.send_analytics_event(EVENT)  # queued after the 429: waits for Retry-After as well
    asyncio.get_running_loop().create_task(client.flush())
    await masivo.clock.advance(19.9)
    assert posts == MAX_IN_FLIGHT + 2 + 1  # the 429 only: the later event did not go either
    await masivo.clock.advance(0.2)
    await flushing
    assert (await first).success
    client.destroy()


async def test_network_errors_are_retried_until_the_attempts_run_out(masivo: FakeMasivo) -> None:
    def offline(request: Request) -> Response:
        raise MasivoNetworkError("offline")

    masivo.script("events", *[offline] * MAX_ATTEMPTS)
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    flushing = asyncio.get_running_loop().create_task(client.flush())
    await masivo.clock.advance(3600)
    await flushing
    with pytest.raises(MasivoNetworkError, match=f"Gave up after {MAX_ATTEMPTS} attempts"):
        await delivery
    assert len(masivo.event_requests) == MAX_ATTEMPTS
    client.destroy()


async def test_a_rejected_batch_is_reported_and_not_retried(masivo: FakeMasivo) -> None:
    masivo.script("events", json_response(422, {"error": "Invalid body", "details": "events"}))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await client.flush()
    with pytest.raises(MasivoError, match="422") as caught:
        await delivery
    assert caught.value.status == 422 and caught.value.details == "events"
    assert "(events)" in caught.value.message  # the server's reason, in what a console shows
    assert len(masivo.event_requests) == 1
    client.destroy()


async def test_per_item_results_fail_only_the_rejected_event(masivo: FakeMasivo) -> None:
    def mixed(request: Request) -> Response:
        events = json.loads(request.body or b"")["events"]
        return json_response(
            200,
            {
                "data": [
                    {"index": 0, "status": 201, "id": events[0]["event_id"]},
                    {"index": 1, "status": 422, "error": "Invalid event", "details": "bad sku"},
                    {"index": 2, "status": 200, "id": events[2]["event_id"]},
                    {"index": 3, "status": 503, "error": "Busy"},
                ]
            },
        )

    masivo.script("events", mixed)
    client = client_for(masivo)
    deliveries = [client.send_analytics_event(EVENT, metadata={"n": n}) for n in range(4)]
    await flush_while_time_passes(client, masivo.clock)
    client.destroy()
    first, rejected, duplicate, busy = deliveries
    assert (await first).status == 201
    assert (await duplicate).status == 200
    with pytest.raises(MasivoError, match="422") as caught:
        await rejected
    assert caught.value.details == "bad sku"
    assert str(caught.value) == "Masivo rejected the event with 422: Invalid event (bad sku)."
    assert (await busy).status == 201  # only the retryable item was sent again
    assert [e["metadata"]["n"] for e in masivo.batches[-1]] == [3]


async def test_an_unreadable_success_is_retried_safely(masivo: FakeMasivo) -> None:
    masivo.script("events", Response(200, body=b"<html>ok</html>"))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    await flush_while_time_passes(client, masivo.clock)
    client.destroy()
    assert (await delivery).success
    assert len(masivo.event_requests) == 2


async def test_a_413_splits_the_batch(masivo: FakeMasivo) -> None:
    too_large = json_response(413, {"error": "Payload too large"})
    masivo.script("events", too_large)
    async with client_for(masivo) as client:
        deliveries = [client.send_analytics_event(EVENT) for _ in range(4)]
    assert all(result.success for result in await asyncio.gather(*deliveries))
    assert [len(batch) for batch in masivo.batches] == [2, 2]


async def test_a_413_splits_until_one_event_alone_is_refused(masivo: FakeMasivo) -> None:
    too_large = json_response(413, {"error": "Payload too large"})
    masivo.script("events", too_large, too_large, too_large)  # 4 events, then 2, then 1
    async with client_for(masivo) as client:
        deliveries = [client.send_analytics_event(EVENT) for _ in range(4)]
    results = await asyncio.gather(*deliveries, return_exceptions=True)
    refused = [result for result in results if isinstance(result, MasivoError)]
    assert [error.status for error in refused] == [413]  # the first event, alone: final
    assert sum(1 for result in results if not isinstance(result, BaseException)) == 3
    assert [len(json.loads(r.body or b"")["events"]) for r in masivo.event_requests] == [
        4,
        2,
        1,
        1,
        2,
    ]


# -- lifecycle --------------------------------------------------------------------------------


async def test_unawaited_events_are_delivered_without_noise(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: loop_errors.append(context))
    masivo.script("events", json_response(422, {"error": "Invalid"}))
    client = client_for(masivo)
    client.send_analytics_event(EVENT)  # fails, nobody awaits
    await client.flush()
    client.send_analytics_event(EVENT)  # succeeds, nobody awaits
    await client.flush()
    client.destroy()
    gc.collect()
    await settle()
    assert loop_errors == []
    assert len(masivo.batches) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "was not delivered" in warnings[0]


async def test_an_awaited_failure_is_not_logged_twice(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    masivo.script("events", json_response(422, {"error": "Invalid"}))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    with pytest.raises(MasivoError):
        await asyncio.gather(delivery, client.flush())
    client.destroy()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_destroy_drops_the_queue_and_stops_the_client(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(masivo)
    deliveries = [client.send_analytics_event(EVENT) for _ in range(3)]
    client.destroy()
    client.destroy()  # idempotent
    for delivery in deliveries:
        with pytest.raises(MasivoError, match="destroyed"):
            await delivery
    assert "dropped 3 unsent" in caplog.text
    with pytest.raises(MasivoConfigError, match="create_client"):
        client.send_analytics_event(EVENT)
    with pytest.raises(MasivoConfigError):
        await client.get_token()
    await client.flush()  # a no-op after destroy
    await masivo.clock.advance(600)
    assert masivo.transport.requests == []


async def test_async_with_flushes_then_destroys(masivo: FakeMasivo) -> None:
    tokens = TokenRegistry()
    async with client_for(masivo, tokens=tokens) as client:
        delivery = client.send_analytics_event(EVENT)
    assert (await delivery).success
    with pytest.raises(MasivoConfigError):
        client.send_analytics_event(EVENT)
    assert len(tokens) == 0  # the token was released


async def test_a_cancelled_flush_does_not_cancel_the_events(masivo: FakeMasivo) -> None:
    masivo.script("events", json_response(503, {"error": "Busy"}))
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    flushing = asyncio.get_running_loop().create_task(client.flush())
    await settle()
    flushing.cancel()
    await masivo.clock.advance(1)
    assert (await delivery).success
    client.destroy()


def test_a_client_works_across_successive_asyncio_run_calls(masivo: FakeMasivo) -> None:
    client = client_for(masivo)

    async def send_one() -> SendEventResult:
        delivery = client.send_analytics_event(EVENT)
        await client.flush()
        return await delivery

    assert asyncio.run(send_one()).success
    assert asyncio.run(send_one()).success
    assert len(masivo.batches) == 2
    assert len(masivo.authorize_requests) == 1  # the token outlives the first loop
    asyncio.run(asyncio.sleep(0))  # destroy() must not need a running loop either
    client.destroy()


async def test_awaiting_an_event_sends_its_batch_without_waiting_for_timers(
    masivo: FakeMasivo,
) -> None:
    client = client_for(masivo)
    unawaited = client.send_analytics_event(EVENT)
    result = await client.send_analytics_event(EVENT)  # no clock advance: no 30 s idle wait
    assert result.success
    assert masivo.clock.now == 0
    assert [len(batch) for batch in masivo.batches] == [2]  # the earlier event went along
    assert unawaited.done()
    client.destroy()


async def test_gzip_compression_sends_the_same_batch_in_fewer_bytes(masivo: FakeMasivo) -> None:
    import gzip

    plain = client_for(masivo)
    packed = client_for(masivo, compression="gzip")
    for client in (plain, packed):
        for number in range(50):
            client.send_analytics_event(EVENT, metadata={"n": number, "note": "same " * 20})
        await client.flush()
    plain_request, packed_request = masivo.event_requests
    assert "content-encoding" not in plain_request.headers
    assert packed_request.headers["content-encoding"] == "gzip"
    assert packed_request.headers["authorization"].startswith("Bearer ")
    assert plain_request.body is not None
    assert packed_request.body is not None
    unpacked = json.loads(gzip.decompress(packed_request.body))
    assert [e["metadata"] for e in unpacked["events"]] == [
        e["metadata"] for e in json.loads(plain_request.body)["events"]
    ]
    assert len(packed_request.body) < len(plain_request.body) / 5
    plain.destroy()
    packed.destroy()


def test_the_environment_points_a_client_at_another_masivo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASIVO_AUTH_URL", "http://127.0.0.1:8765/auth/authorize")
    monkeypatch.setenv("MASIVO_API_BASE", "http://127.0.0.1:8765/api/storefront/v1/")
    settings = create_client("k").settings
    assert settings.auth_url == "http://127.0.0.1:8765/auth/authorize"
    assert settings.api_base == "http://127.0.0.1:8765/api/storefront/v1"
    assert create_client("k", auth_url=AUTH_URL).settings.auth_url == AUTH_URL  # given wins
    monkeypatch.setenv("MASIVO_API_BASE", "localhost:8765")
    with pytest.raises(MasivoConfigError, match="MASIVO_API_BASE"):
        create_client("k")


async def test_before_send_gets_a_copy_it_may_change(masivo: FakeMasivo) -> None:
    def scrub(event: dict[str, Any]) -> dict[str, Any]:
        event["user"].pop("email")  # the README's own example
        return event

    client = client_for(masivo, before_send=scrub)
    user = {"id": "u-1", "email": "x@y.z"}
    client.send_analytics_event(EVENT, user=user)
    await client.flush()
    assert user == {"id": "u-1", "email": "x@y.z"}  # the application's dict is untouched
    assert sent_events(masivo)[0]["user"] == {"id": "u-1"}
    client.destroy()


async def test_a_before_send_that_raises_drops_the_event_and_reports_it(
    masivo: FakeMasivo,
) -> None:
    reported: list[MasivoError] = []

    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("user")

    client = client_for(
        masivo, before_send=broken, on_error=lambda error, event_id: reported.append(error)
    )
    delivery = client.send_analytics_event(EVENT)  # no exception into the click handler
    (error,) = reported
    assert isinstance(error, MasivoValidationError) and "before_send raised" in error.message
    assert isinstance(error.__cause__, KeyError)
    with pytest.raises(MasivoValidationError):
        await delivery
    await client.flush()
    assert masivo.event_requests == []
    client.destroy()


async def test_identify_and_page_refuse_what_is_not_a_dict(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    with pytest.raises(MasivoValidationError, match="traits must be a dict"):
        client.identify("c-1", [1])  # type: ignore[arg-type]
    with pytest.raises(MasivoValidationError, match="properties must be a dict"):
        client.page("Home", [1], url="https://shop.test/")  # type: ignore[arg-type]
    client.destroy()


@pytest.mark.parametrize(
    ("arguments", "fields", "message"),
    [
        ((5,), {"url": "https://shop.test/"}, "page\\(\\) name must be a string"),
        (("Home",), {"url": 5}, "page\\(\\) 'url' must be a string"),
        (("Home",), {"url": "https://shop.test/", "title": ["x"]}, "page\\(\\) 'title'"),
        (("Home",), {"url": "https://shop.test/", "referrer": None}, "page\\(\\) 'referrer'"),
    ],
)
async def test_page_refuses_what_is_not_a_page(
    masivo: FakeMasivo, arguments: tuple[Any, ...], fields: dict[str, Any], message: str
) -> None:
    client = client_for(masivo)
    with pytest.raises(MasivoValidationError, match=message):
        client.page(*arguments, **fields)
    assert len(client._outbox) == 0  # nothing queued
    client.destroy()
