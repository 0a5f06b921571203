"""The delivery core under MicroPython, without a page: batching, auth, retries, input."""

import asyncio
import json
import time

from support import API_BASE, AUTH_URL, Masivo, cart, client, until

from masivo_web import MasivoConfigError, MasivoValidationError, SendEventResult, create_client
from masivo_web.errors import MasivoError
from masivo_web.rules.http import Response
from masivo_web.rules.ids import new_id


async def check_a_full_batch_goes_at_once_and_the_rest_after_the_idle_time():
    masivo = Masivo()
    masivo_client = client(masivo, batch_size=10, idle_flush_s=0.2)
    for _ in range(13):
        masivo_client.send_analytics_event(cart())
    await until(lambda: len(masivo.bodies) == 1, what="the full batch")
    assert len(masivo.stored) == 10
    await asyncio.sleep(0.05)
    assert len(masivo.stored) == 10  # the last 3 wait for the idle time
    await until(lambda: len(masivo.stored) == 13, what="the idle flush")
    assert masivo.authorized == 1
    await masivo_client.close()


async def check_awaiting_an_event_sends_its_batch_and_gives_the_answer():
    masivo = Masivo()
    masivo_client = client(masivo, idle_flush_s=30)
    result = await masivo_client.send_analytics_event(cart(product={"sku": "S-1", "value": 2.5}))
    assert isinstance(result, SendEventResult) and result.success and result.status == 201
    (event,) = masivo.events()
    assert event["product"] == {"sku": "S-1", "value": 2.5}
    assert event["issued_at"].endswith("Z") and len(event["issued_at"]) == 24
    await masivo_client.close()


async def check_event_ids_are_uuid4_from_crypto_and_unique():
    ids = [new_id() for _ in range(600)]  # more than one pool of random bytes
    assert len(set(ids)) == 600
    for event_id in ids:
        parts = event_id.split("-")
        assert [len(part) for part in parts] == [8, 4, 4, 4, 12]
        assert parts[2][0] == "4" and parts[3][0] in "89ab"


async def check_an_expired_token_is_refreshed_before_use():
    masivo = Masivo(token_ttl_s=11)  # within the expiry margin after a second
    masivo_client = client(masivo)
    await masivo_client.send_analytics_event(cart())
    await asyncio.sleep(1.1)
    await masivo_client.send_analytics_event(cart())
    assert masivo.authorized == 2
    tokens = [request.headers["authorization"] for request in masivo.bodies]
    assert tokens == ["Bearer " + masivo.tokens[0], "Bearer " + masivo.tokens[1]]
    await masivo_client.close()


async def check_a_401_authorizes_again_and_retries_once():
    masivo = Masivo()
    masivo.script = [Response(401, body=b'{"error": "expired"}')]
    masivo_client = client(masivo)
    result = await masivo_client.send_analytics_event(cart())
    assert result.success and masivo.authorized == 2
    await masivo_client.close()


async def check_a_413_splits_the_batch_and_every_event_arrives_once():
    masivo = Masivo()
    masivo.script = [Response(413)]
    masivo_client = client(masivo, idle_flush_s=30)
    deliveries = [masivo_client.send_analytics_event(cart(n=i)) for i in range(6)]
    await masivo_client.flush()
    for delivery in deliveries:
        assert (await delivery).success
    assert sorted(masivo.stored.values()) == [1] * 6
    assert len(masivo.bodies) == 2  # the halves
    await masivo_client.close()


async def check_503_and_429_are_retried_and_retry_after_is_honoured_in_both_forms():
    masivo = Masivo()
    http_date = "Sun, 06 Nov 1994 08:49:37 GMT"  # in the past: retry at once
    masivo.script = [
        Response(503),
        Response(429, headers={"retry-after": "0.3"}),
        Response(503, headers={"retry-after": http_date}),
    ]
    masivo_client = client(masivo)
    started = time.ticks_ms()
    result = await masivo_client.send_analytics_event(cart())
    waited = time.ticks_diff(time.ticks_ms(), started)
    assert result.success and masivo.stored and list(masivo.stored.values()) == [1]
    assert waited >= 300, waited  # the 429's Retry-After
    await masivo_client.close()


async def check_a_rejected_event_fails_with_the_servers_words_and_is_not_retried():
    masivo = Masivo()
    masivo.script = [Response(400, body=b'{"error": "Invalid event", "details": "bad type"}')]
    masivo_client = client(masivo, on_error=lambda error, event_id: None)
    try:
        await masivo_client.send_analytics_event(cart())
    except MasivoError as error:
        assert error.status == 400 and error.code == "Invalid event", error
        assert error.details == "bad type"
    else:
        raise AssertionError("a 400 must fail the event")
    assert not masivo.stored
    await masivo_client.close()


async def check_gzip_bodies_carry_the_same_events():
    masivo = Masivo()
    masivo_client = client(masivo, compression="gzip")
    for _ in range(3):
        masivo_client.send_analytics_event(cart(note="ñandú ✓"))
    await masivo_client.flush()
    (request,) = masivo.bodies
    assert request.headers["content-encoding"] == "gzip"
    assert request.body[:2] == b"\x1f\x8b"
    assert [event["note"] for event in masivo.events()] == ["ñandú ✓"] * 3
    await masivo_client.close()


async def check_close_with_a_timeout_returns_in_time_and_says_what_was_not_sent():
    masivo = Masivo()

    async def never(request):
        await asyncio.sleep(60)

    masivo.script = [never]
    masivo_client = client(masivo, idle_flush_s=30, on_error=lambda error, event_id: None)
    delivery = masivo_client.send_analytics_event(cart())
    started = time.ticks_ms()
    result = await masivo_client.close(timeout_s=0.2)
    assert time.ticks_diff(time.ticks_ms(), started) < 1500
    assert delivery.done() and delivery.error is not None
    assert not result and result.unsent == 1 and result == False  # noqa: E712
    try:
        masivo_client.send_analytics_event(cart())
    except MasivoConfigError:
        pass
    else:
        raise AssertionError("an event after close() was accepted")


async def check_bad_input_is_refused_with_a_reason_and_queued_events_are_untouched():
    masivo = Masivo()
    masivo_client = client(masivo, idle_flush_s=30)
    good = masivo_client.send_analytics_event(cart(sku="kept"))
    cases = [
        ({"price": float("nan")}, "JSON"),
        ({"price": float("inf")}, "JSON"),
        ({"tags": {1, 2}}, "list"),
        ({"blob": b"x"}, "bytes"),
        ({"product": {"when": object()}}, "JSON"),
        ({"product": {1: "int key"}}, "strings"),
    ]
    for fields, reason in cases:
        try:
            masivo_client.send_analytics_event(cart(**fields))
        except MasivoValidationError as error:
            assert reason in str(error), (fields, str(error))
        else:
            raise AssertionError("accepted " + repr(fields))
    for bad in ("not a dict", ["a"]):
        try:
            masivo_client.send_analytics_event(bad)
        except MasivoValidationError:
            pass
        else:
            raise AssertionError("accepted " + repr(bad))
    try:
        masivo_client.send_analytics_event(type="ADD_TO_CART", customer_id="c-1")
    except MasivoValidationError as error:
        assert "brand_id" in str(error)
    else:
        raise AssertionError("accepted an event without brand_id")
    assert (await good).success
    assert [event["sku"] for event in masivo.events()] == ["kept"]
    await masivo_client.close()


async def check_identify_page_and_reset_change_who_the_events_are_from():
    masivo = Masivo()
    masivo_client = client(masivo, idle_flush_s=30)
    anonymous = masivo_client.anonymous_id
    masivo_client.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    masivo_client.identify("customer-9", {"plan": "gold"})
    masivo_client.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    masivo_client.page(url="https://shop.test/p?utm_source=news", title="P")
    masivo_client.reset()
    masivo_client.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    await masivo_client.flush()
    events = masivo.events()
    assert [event["type"] for event in events] == [
        "ADD_TO_CART",
        "IDENTIFY",
        "ADD_TO_CART",
        "PAGE_VIEW",
        "ADD_TO_CART",
    ]
    assert events[0]["customer_id"] == anonymous
    assert events[1]["customer_id"] == "customer-9"
    assert events[2]["customer_id"] == "customer-9"
    assert events[3]["url"] == "https://shop.test/p?utm_source=news"
    assert events[4]["customer_id"] == masivo_client.anonymous_id != anonymous
    await masivo_client.close()


async def check_opting_out_sends_nothing_more():
    masivo = Masivo()
    masivo_client = client(masivo, idle_flush_s=30)
    masivo_client.opt_out()
    result = await masivo_client.send_analytics_event(cart())
    assert not result.success and result.data == {"reason": "opted out"}
    await masivo_client.flush()
    assert not masivo.stored
    await masivo_client.close()


async def check_an_option_error_says_what_to_pass():
    try:
        create_client("key", auth_url=AUTH_URL, api_base=API_BASE, batch_size=500)
    except MasivoError as error:
        assert "batch_size" in str(error)
    else:
        raise AssertionError("batch_size=500 accepted")


async def check_events_keep_the_order_of_the_calls():
    masivo = Masivo()
    masivo_client = client(masivo, idle_flush_s=30, batch_size=7)
    for index in range(30):
        masivo_client.send_analytics_event(cart(n=index))
    await masivo_client.flush()
    assert [event["n"] for event in masivo.events()] == list(range(30))
    body = json.loads(masivo.bodies[0].body)
    assert list(body) == ["events"]
    await masivo_client.close()
