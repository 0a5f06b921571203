"""The SDK against the real emulator over loopback sockets (CPython transport, real clock)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from masivo_web import (
    DeliveryPolicy,
    MasivoAuthError,
    MasivoClient,
    MasivoError,
    MasivoNetworkError,
    MasivoServerKeyError,
    create_client,
)
from masivo_web.emulator import EmulatorServer
from masivo_web.rules.http import Transport
from masivo_web.transports import default_transport
from masivo_web.transports.cpython.httpx_client import HttpxTransport
from masivo_web.transports.cpython.stdlib import StdlibTransport

pytestmark = pytest.mark.emulator

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "customer-123", "brand_id": None}


@pytest.fixture
def emulator(fresh_masivo_emulator: EmulatorServer) -> EmulatorServer:
    return fresh_masivo_emulator


#: Real waits, made short: the schedule itself is unit-tested with a fake clock.
#: Backoffs and the authorize floor compressed: these tests run on the real clock.
QUICK_BACKOFF = DeliveryPolicy(backoff_base_s=0.01, backoff_cap_s=0.05, authorize_floor_s=0.05)
#: Both CPython transports run every test here (httpx is the default where installed).
TRANSPORTS: dict[str, Transport] = {"stdlib": StdlibTransport(), "httpx": HttpxTransport()}
_chosen: list[Transport] = []


@pytest.fixture(autouse=True, params=sorted(TRANSPORTS))
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    _chosen.append(TRANSPORTS[request.param])
    yield _chosen[-1]
    _chosen.pop()


def connect(emulator: EmulatorServer, key: str | None = None, **options: Any) -> MasivoClient:
    options.setdefault("policy", QUICK_BACKOFF)
    options.setdefault("transport", _chosen[-1])
    return create_client(
        key or emulator.client_key,
        auth_url=emulator.auth_url,
        api_base=emulator.api_base,
        **options,
    )


async def test_250_events_make_one_authorize_and_three_batches(emulator: EmulatorServer) -> None:
    async with connect(emulator) as masivo:
        deliveries = [
            masivo.send_analytics_event(
                EVENT, product={"sku": f"SKU-{n}", "amount": 1, "value": 9.5}
            )
            for n in range(250)
        ]
    assert all(result.status == 201 for result in await asyncio.gather(*deliveries))
    requests = emulator.control.requests()
    assert [r["route"] for r in requests] == ["authorize", "analytics", "analytics", "analytics"]
    assert [r["events"] for r in requests[1:]] == [100, 100, 50]
    stored = emulator.control.received_events()
    assert len(stored) == 250
    assert [event["product"]["sku"] for event in stored] == [f"SKU-{n}" for n in range(250)]
    assert {event["event_id"] for event in stored} == {d.event_id for d in deliveries}


async def test_events_arrive_with_the_fields_masivo_documents(emulator: EmulatorServer) -> None:
    async with connect(emulator, brand_id="brand-456") as masivo:
        result = await asyncio.gather(
            masivo.send_analytics_event(
                type="ADD_TO_CART",
                customer_id="customer-123",
                platform="web",
                product={"sku": "SKU-001", "amount": 1, "value": 29.99, "tags": ["new"]},
                metadata={"source": "test"},
            ),
            masivo.flush(),
        )
    (event,) = emulator.control.received_events()
    assert event["brand_id"] == "brand-456"
    assert event["product"] == {"sku": "SKU-001", "amount": 1, "value": 29.99, "tags": ["new"]}
    assert event["metadata"] == {"source": "test"}
    assert event["event_id"] == result[0].data["id"]
    assert event["issued_at"].endswith("Z")


async def test_a_server_key_is_refused_once_and_never_retried(emulator: EmulatorServer) -> None:
    masivo = connect(emulator, key=emulator.server_key)
    deliveries = [masivo.send_analytics_event(EVENT) for _ in range(3)]
    await masivo.flush()
    masivo.send_analytics_event(EVENT)
    await masivo.flush()
    for delivery in deliveries:
        with pytest.raises(MasivoServerKeyError):
            await delivery
    masivo.destroy()
    assert [r["status"] for r in emulator.control.requests()] == [403]
    assert emulator.control.received_events() == []


async def test_an_unknown_key_is_an_auth_error(emulator: EmulatorServer) -> None:
    masivo = connect(emulator, key="nobody-knows-me")
    with pytest.raises(MasivoAuthError, match="refused the API key"):
        await masivo.get_token()
    masivo.destroy()


async def test_a_revoked_token_is_replaced_and_the_batch_retried_once(
    emulator: EmulatorServer,
) -> None:
    async with connect(emulator) as masivo:
        await masivo.get_token()
        emulator.control.revoke_tokens()
        delivery = masivo.send_analytics_event(EVENT)
    assert (await delivery).success
    assert [(r["route"], r["status"]) for r in emulator.control.requests()] == [
        ("authorize", 200),
        ("analytics", 401),
        ("authorize", 200),
        ("analytics", 200),
    ]


async def test_a_token_that_expired_is_replaced(emulator: EmulatorServer) -> None:
    emulator.control.update_settings(token_ttl_s=1)
    async with connect(emulator) as masivo:
        await masivo.get_token()
        await asyncio.sleep(1.1)  # the emulator's tokens live 1 s; let this one lapse
        delivery = masivo.send_analytics_event(EVENT)
    assert (await delivery).success
    assert len(emulator.control.received_events()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"status": 500, "count": 3},
        {"status": 429, "retry_after": 0.2},
        {"drop": True},
        {"drop": True, "after_processing": True},
        {"status": 502, "after_processing": True},
        {"delay_s": 1.0},
    ],
    ids=[
        "503",
        "500x3",
        "429-retry-after",
        "drop",
        "drop-after-storing",
        "502-after-storing",
        "slow",
    ],
)
async def test_faults_are_retried_and_every_event_is_stored_once(
    emulator: EmulatorServer, fault: dict[str, Any]
) -> None:
    # A lost answer (stored, then the connection dropped or a 502; or slower than the client
    # waits) is re-sent: stored once only by a service that de-duplicates by event_id.
    lost_answer = fault.get("after_processing") or fault.get("delay_s")
    emulator.control.update_settings(dedupe=bool(lost_answer))
    emulator.control.inject_fault("analytics", **fault)
    async with connect(emulator, timeout_s=0.5) as masivo:
        deliveries = [masivo.send_analytics_event(EVENT) for _ in range(5)]
    results = await asyncio.gather(*deliveries)
    assert all(result.success for result in results)
    stored = emulator.control.received_events()
    assert sorted(e["event_id"] for e in stored) == sorted(d.event_id for d in deliveries)
    if fault.get("after_processing"):
        assert {result.status for result in results} == {200}  # the retry was de-duplicated
        assert emulator.control.stats()["duplicates_suppressed"] == 5


async def test_a_lost_answer_is_re_sent_and_a_service_without_dedupe_stores_it_twice(
    emulator: EmulatorServer,
) -> None:
    """The one case the SDK cannot tell apart: the request arrived, its answer did not. It
    re-sends (losing the event is worse); Masivo, which documents no de-duplication, may count
    the event twice. The emulator, like the documented service, stores every copy."""
    emulator.control.inject_fault("analytics", drop=True, after_processing=True)
    async with connect(emulator, timeout_s=0.5) as masivo:
        deliveries = [masivo.send_analytics_event(EVENT) for _ in range(3)]
    assert all(result.success for result in await asyncio.gather(*deliveries))
    copies = Counter(e["event_id"] for e in emulator.control.received_events())
    assert copies == {delivery.event_id: 2 for delivery in deliveries}
    stats = emulator.control.stats()
    assert (stats["stored"], stats["distinct"], stats["repeats"]) == (6, 3, 3)
    assert stats["duplicates_suppressed"] == 0


async def test_retry_after_delays_the_retry(emulator: EmulatorServer) -> None:
    emulator.control.inject_fault("analytics", status=429, retry_after=0.5)
    async with connect(emulator) as masivo:
        masivo.send_analytics_event(EVENT)
    first, second = emulator.control.requests(route="analytics")
    assert second["at"] - first["at"] >= 0.5


async def test_a_down_server_is_a_network_error_after_the_retries(emulator: EmulatorServer) -> None:
    masivo = create_client(
        emulator.client_key,
        auth_url=emulator.auth_url,
        api_base="http://127.0.0.1:9/api/storefront/v1",  # the discard port: nothing listens
        policy=QUICK_BACKOFF,
    )
    delivery = masivo.send_analytics_event(EVENT)
    await masivo.flush()
    with pytest.raises(MasivoNetworkError, match="Gave up"):
        await delivery
    masivo.destroy()


async def test_the_authorize_route_failing_transiently_is_retried(emulator: EmulatorServer) -> None:
    emulator.control.inject_fault("authorize", status=503, count=2)
    async with connect(emulator) as masivo:
        delivery = masivo.send_analytics_event(EVENT)
    assert (await delivery).success
    assert [r["status"] for r in emulator.control.requests(route="authorize")] == [503, 503, 200]


async def test_the_single_event_route(emulator: EmulatorServer) -> None:
    async with connect(emulator, event_route="behavior") as masivo:
        deliveries = [masivo.send_analytics_event(EVENT) for _ in range(2)]
    results = await asyncio.gather(*deliveries)
    assert [result.status for result in results] == [201, 201]
    assert results[0].data["status"] == "PENDING"
    assert [r["route"] for r in emulator.control.requests()] == [
        "authorize",
        "behavior",
        "behavior",
    ]
    assert [e["_route"] for e in emulator.control.received_events()] == ["behavior"] * 2


async def test_server_side_rejections_reach_the_caller(emulator: EmulatorServer) -> None:
    # An event the SDK accepts but this account's server refuses: 500 KB of batch in one body
    # is impossible from the SDK, so refuse through a fault carrying a client error.
    emulator.control.inject_fault("analytics", status=422)
    async with connect(emulator) as masivo:
        delivery = masivo.send_analytics_event(EVENT)
    with pytest.raises(MasivoError) as caught:
        await delivery
    assert caught.value.status == 422
    assert len(emulator.control.requests(route="analytics")) == 1  # not retried


async def test_errors_carry_status_code_details_and_the_request_id(
    emulator: EmulatorServer,
) -> None:
    async with connect(emulator) as masivo:
        await masivo.get_token()
        emulator.control.inject_fault("analytics", status=422)
        delivery = masivo.send_analytics_event(EVENT)
    with pytest.raises(MasivoError) as caught:
        await delivery
    error = caught.value
    (request,) = emulator.control.requests(route="analytics")
    assert (error.status, error.code) == (422, "Injected fault")
    assert error.details == "emulator fault: HTTP 422"
    assert error.request_id == request["request_id"]
    assert error.request_id.startswith("req_")


async def test_anonymous_events_before_identify_are_attributable_to_the_customer(
    emulator: EmulatorServer,
) -> None:
    async with connect(emulator) as masivo:
        masivo.send_analytics_event(type="ADD_TO_CART", brand_id=None)  # anonymous
        masivo.identify("customer-77", {"email": "sam@example.com"})
        masivo.send_analytics_event(type="EMPTY_CART", brand_id=None)
    async with connect(emulator) as stranger:
        stranger.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    events = emulator.control.customer_events("customer-77")
    assert [event["type"] for event in events] == ["ADD_TO_CART", "IDENTIFY", "EMPTY_CART"]
    assert events[0]["customer_id"] != "customer-77"  # it was sent before identify
    assert len(emulator.control.received_events()) == 4


async def test_two_customers_of_one_browser_do_not_see_each_others_events(
    emulator: EmulatorServer,
) -> None:
    async with connect(emulator) as masivo:  # one browser: one anonymous id
        masivo.send_analytics_event(type="VIEW", brand_id=None)  # anonymous
        masivo.identify("customer-a")
        masivo.send_analytics_event(type="A_ONLY", brand_id=None)
        masivo.identify("customer-b")  # no reset(): the anonymous id stays
        masivo.send_analytics_event(type="B_ONLY", brand_id=None)
    types_a = [event["type"] for event in emulator.control.customer_events("customer-a")]
    assert types_a == ["VIEW", "IDENTIFY", "A_ONLY"]
    types_b = [event["type"] for event in emulator.control.customer_events("customer-b")]
    assert types_b == ["VIEW", "IDENTIFY", "B_ONLY"]  # the anonymous view before both


async def test_gzip_compression_is_stored_the_same_for_a_fraction_of_the_bytes(
    emulator: EmulatorServer,
) -> None:
    sent: dict[str | None, list[dict[str, Any]]] = {}
    for compression in (None, "gzip"):
        async with connect(emulator, compression=compression) as masivo:
            for n in range(100):
                masivo.send_analytics_event(
                    EVENT, product={"sku": f"SKU-{n}", "amount": 1, "value": 9.5}
                )
        sent[compression] = emulator.control.received_events()[-100:]
    assert [e["product"] for e in sent["gzip"]] == [e["product"] for e in sent[None]]
    plain, packed = [r for r in emulator.control.requests() if r["route"] == "analytics"]
    assert (plain["encoding"], packed["encoding"]) == (None, "gzip")
    assert packed["body_bytes"] < plain["body_bytes"] / 5


def test_httpx_is_the_cpython_default_where_installed() -> None:
    assert isinstance(default_transport(), HttpxTransport)


async def test_httpx_keeps_one_connection_and_the_stdlib_transport_opens_one_each(
    emulator: EmulatorServer, transport: Transport
) -> None:
    async with connect(emulator) as masivo:
        for _ in range(3):
            await masivo.send_analytics_event(EVENT)
    requests = emulator.control.requests()
    ports = {entry["client_port"] for entry in requests}
    assert len(requests) == 4 and None not in ports  # authorize and 3 batches
    assert len(ports) == (1 if isinstance(transport, HttpxTransport) else 4)


def test_httpx_goes_through_the_environments_proxy(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that records the request line and closes: the SDK then reports a network error.
    seen: list[bytes] = []
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen()
        proxy.settimeout(10)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)

        def accept() -> None:
            connection, _ = proxy.accept()
            with connection:
                seen.append(connection.recv(4096).split(b"\r\n", 1)[0])

        listener = threading.Thread(target=accept)
        listener.start()

        async def authorize() -> None:
            masivo = create_client(
                emulator.client_key,
                auth_url=emulator.auth_url,
                api_base=emulator.api_base,
                transport=HttpxTransport(),  # reads the environment when its client is made
                policy=DeliveryPolicy(max_attempts=1),
            )
            with pytest.raises(MasivoError):
                await masivo.get_token()
            await masivo.close()

        asyncio.run(authorize())
        listener.join(10)
    assert seen == [f"GET {emulator.auth_url} HTTP/1.1".encode()]
    assert emulator.control.requests() == []  # it never went direct
