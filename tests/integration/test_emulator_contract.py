"""The emulator implements docs/masivo-api.md: checked with raw HTTP, independent of the SDK."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator

Call = Callable[..., tuple[int, dict[str, str], Any]]
EVENT_ID = "6f1d3a50-1b2c-4d5e-8f90-123456789abc"


def event(**overrides: Any) -> dict[str, Any]:
    return {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None} | overrides


@pytest.fixture
def emulator(fresh_masivo_emulator: EmulatorServer) -> EmulatorServer:
    return fresh_masivo_emulator


@pytest.fixture
def call(emulator: EmulatorServer) -> Call:
    def call(
        method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = (
            body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        )
        request = urllib.request.Request(
            emulator.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, answer_headers = error.code, error.read(), error.headers
        lowered = {name.lower(): value for name, value in answer_headers.items()}
        try:
            return status, lowered, json.loads(raw) if raw else None
        except ValueError:
            return status, lowered, raw.decode()

    return call


def token_for(call: Call, key: str = "test-client-key") -> str:
    headers = {"x-api-key": key}
    if key != "test-server-key":  # what the SDK sends; a server key would be refused with it
        headers["x-masivo-sdk"] = "client"
    status, _, body = call("GET", "/auth/authorize", headers=headers)
    assert status == 200
    return str(body["data"])


def post_events(call: Call, events: Any, token: str, prefix: str = "/api/storefront/v1") -> Any:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return call("POST", f"{prefix}/analytics/events", {"events": events}, headers)


@pytest.mark.parametrize(
    ("headers", "status", "details"),
    [
        ({}, 401, "x-api-key"),
        ({"x-api-key": "unknown"}, 401, "Unknown API key"),
        ({"x-api-key": "test-server-key", "x-masivo-sdk": "client"}, 403, "CLIENT key"),
    ],
)
def test_authorize_refusals(call: Call, headers: dict[str, str], status: int, details: str) -> None:
    got, _, body = call("GET", "/auth/authorize", headers=headers)
    assert got == status
    assert set(body) == {"error", "details"}
    assert details in body["details"]


def test_authorize_issues_an_hour_long_jwt_at_both_prefixes(call: Call) -> None:
    for path in ("/auth/authorize", "/api/storefront/v1/auth/authorize"):
        token = token_for(call) if path == "/auth/authorize" else None
        status, _, body = call("GET", path, headers={"x-api-key": "test-client-key"})
        assert status == 200
        token = body["data"]
        claims = json.loads(
            __import__("base64").urlsafe_b64decode(token.split(".")[1] + "==").decode()
        )
        assert 3590 < claims["exp"] - time.time() <= 3600
        assert "test-client-key" not in token  # the key itself never rides in the token


def test_server_keys_without_the_client_header_may_authorize(call: Call) -> None:
    status, _, _ = call("GET", "/auth/authorize", headers={"x-api-key": "test-server-key"})
    assert status == 200


@pytest.mark.parametrize("dedupe", [False, True])
def test_batch_per_item_results_and_copies(
    call: Call, emulator: EmulatorServer, dedupe: bool
) -> None:
    """Every copy of an event_id is stored and answered 201 (the documented service names no
    de-duplication); with the emulator's ``dedupe`` setting, a repeat is answered 200 and not
    stored again."""
    if dedupe:
        emulator.control.update_settings(dedupe=True)
    token = token_for(call)
    too_old = (datetime.now(UTC) - timedelta(hours=73)).isoformat()
    status, headers, body = post_events(
        call,
        [
            event(event_id=EVENT_ID),
            event(event_id=EVENT_ID),
            event(type="PURCHASE"),
            event(customer_id=""),
            event(issued_at=too_old),
            event(product={"value": "1"}),
            "not an object",
        ],
        token,
        prefix="",
    )
    assert status == 200
    repeat = 200 if dedupe else 201
    assert [item["status"] for item in body["data"]] == [201, repeat, 403, 422, 422, 422, 422]
    assert [item["index"] for item in body["data"]] == list(range(7))
    assert body["data"][0]["id"] == EVENT_ID
    assert "SERVER key" in body["data"][2]["details"]
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(headers)
    assert len(emulator.control.received_events()) == (1 if dedupe else 2)
    stats = emulator.control.stats()
    assert (stats["distinct"], stats["repeats"]) == (1, 1)
    assert stats["duplicates_suppressed"] == (1 if dedupe else 0)


def test_server_keys_may_send_reserved_types(call: Call) -> None:
    status, _, body = post_events(
        call, [event(type="PURCHASE")], token_for(call, "test-server-key")
    )
    assert (status, body["data"][0]["status"]) == (200, 201)


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b"{not json", 400, "Malformed JSON"),
        # What json.loads takes but JSON is not, or what cannot be stored: 4xx, never a 500.
        (
            b'{"events": [{"type": "A", "customer_id": "c", "brand_id": null, "v": NaN}]}',
            400,
            "Malformed JSON",
        ),
        (
            b'{"events": [{"type": "A", "customer_id": "c", "brand_id": null, "v": -Infinity}]}',
            400,
            "Malformed JSON",
        ),
        (
            b'{"events": [{"type": "A", "customer_id": "\\ud800", "brand_id": null}]}',
            400,
            "Malformed JSON",
        ),
        (b'{"events": [' + b"[" * 3000 + b"]" * 3000 + b"]}", 400, "Malformed JSON"),
        ({"events": []}, 422, "Invalid body"),
        ({"events": [event()] * 101}, 422, "Invalid body"),
        ({"event": event()}, 422, "Invalid body"),
        ({"events": [event(pad="x" * 600_000)]}, 413, "Payload too large"),
    ],
)
def test_bad_batch_bodies(call: Call, body: Any, status: int, title: str) -> None:
    headers = {"authorization": f"Bearer {token_for(call)}", "content-type": "application/json"}
    got, answer_headers, answer = call("POST", "/analytics/events", body, headers)
    assert (got, answer["error"]) == (status, title)
    assert "x-ratelimit-limit" in answer_headers
    assert "Traceback" not in json.dumps(answer)
    assert call("GET", "/_emulator/events")[0] == 200  # and it still answers normally


def test_a_body_must_say_it_is_json(call: Call) -> None:
    token = token_for(call)
    for content_type in ("text/plain", None):
        headers = {"authorization": f"Bearer {token}"}
        if content_type:
            headers["content-type"] = content_type
        status, _, answer = call("POST", "/analytics/events", {"events": [event()]}, headers)
        assert (status, answer["error"]) == (415, "Unsupported Content-Type")
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json; charset=utf-8",
    }
    assert call("POST", "/analytics/events", {"events": [event()]}, headers)[0] == 200


@pytest.mark.parametrize(
    "authorization", [None, "Basic abc", "Bearer not.a.jwt", "Bearer " + "e30.e30.sig"]
)
def test_event_routes_need_a_valid_token(call: Call, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization else {}
    status, _, body = call("POST", "/analytics/events", {"events": [event()]}, headers)
    assert status == 401
    assert body["error"] == "Unauthorized"


def test_expired_and_revoked_tokens_are_refused(call: Call, emulator: EmulatorServer) -> None:
    emulator.control.update_settings(token_ttl_s=0.5)
    expired = token_for(call)
    time.sleep(0.6)  # wall time is the point here: the emulator checks real expiry
    status, _, body = post_events(call, [event()], expired)
    assert (status, body["details"]) == (401, "The token has expired; authorize again.")
    emulator.control.update_settings(token_ttl_s=3600)
    revoked = token_for(call)
    emulator.control.revoke_tokens()
    status, _, body = post_events(call, [event()], revoked)
    assert (status, body["details"]) == (401, "The token was revoked; authorize again.")


def test_rate_limit_answers_429_with_retry_after(call: Call, emulator: EmulatorServer) -> None:
    emulator.control.update_settings(rate_limit=2)
    token = token_for(call)
    statuses = [post_events(call, [event()], token) for _ in range(3)]
    assert [s[0] for s in statuses] == [200, 200, 429]
    assert statuses[1][1]["x-ratelimit-remaining"] == "0"
    assert int(statuses[2][1]["retry-after"]) >= 1


def test_single_event_route(call: Call) -> None:
    headers = {"authorization": f"Bearer {token_for(call)}", "content-type": "application/json"}
    first = call("POST", "/api/storefront/v1/behavior/events", event(event_id=EVENT_ID), headers)
    again = call("POST", "/behavior/events", event(event_id=EVENT_ID), headers)
    refused = call("POST", "/behavior/events", event(type="BIRTHDAY"), headers)
    assert (first[0], first[2]["data"]["status"], first[2]["data"]["id"]) == (
        201,
        "PENDING",
        EVENT_ID,
    )
    assert again[0] == 201  # a copy, stored again: the documented service names no dedupe
    assert refused[0] == 403


def test_cors_preflight_allows_the_sdk_headers(call: Call) -> None:
    status, headers, _ = call(
        "OPTIONS",
        "/api/storefront/v1/analytics/events",
        headers={
            "origin": "http://shop.test",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    allowed = headers["access-control-allow-headers"].lower()
    assert all(
        name in allowed
        for name in (
            "authorization",
            "content-encoding",
            "content-type",
            "x-api-key",
            "x-masivo-sdk",
        )
    )
    assert int(headers["access-control-max-age"]) >= 600  # one preflight per page, not per batch


def test_cross_origin_answers_expose_the_rate_limit_headers(call: Call) -> None:
    headers = {"authorization": f"Bearer {token_for(call)}", "origin": "http://shop.test"}
    _, answer_headers, _ = call("POST", "/analytics/events", {"events": [event()]}, headers)
    assert "retry-after" in answer_headers["access-control-expose-headers"].lower()


def test_faults_and_the_request_log(call: Call, emulator: EmulatorServer) -> None:
    emulator.control.inject_fault("analytics", status=503, retry_after=7, count=2)
    token = token_for(call)
    answers = [post_events(call, [event()], token) for _ in range(3)]
    assert [a[0] for a in answers] == [503, 503, 200]
    assert answers[0][1]["retry-after"] == "7"
    log = emulator.control.requests()
    assert [(r["route"], r["status"]) for r in log] == [
        ("authorize", 200),
        ("analytics", 503),
        ("analytics", 503),
        ("analytics", 200),
    ]
    assert emulator.control.received_events()[0]["customer_id"] == "c-1"


def test_a_stored_then_failed_request_keeps_its_events(
    call: Call, emulator: EmulatorServer
) -> None:
    emulator.control.inject_fault("analytics", status=500, after_processing=True)
    status, _, _ = post_events(call, [event(event_id=EVENT_ID)], token_for(call))
    assert status == 500
    assert [e["event_id"] for e in emulator.control.received_events()] == [EVENT_ID]


def test_dropped_connections_get_no_answer(call: Call, emulator: EmulatorServer) -> None:
    emulator.control.inject_fault("authorize", drop=True)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call("GET", "/auth/authorize", headers={"x-api-key": "test-client-key"})
    assert emulator.control.requests()[0]["status"] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_emulator/faults", {"route": "nowhere", "status": 500}),
        ("/_emulator/faults", {"route": "analytics"}),
        ("/_emulator/faults", {"route": "analytics", "status": "x"}),
        ("/_emulator/keys", {"key": "k", "kind": "admin"}),
        ("/_emulator/keys", [1]),
    ],
)
def test_control_routes_refuse_bad_input_with_a_reason(call: Call, path: str, body: Any) -> None:
    status, _, answer = call("POST", path, body, {"content-type": "application/json"})
    assert status == 400
    assert answer["details"]


def test_registered_keys_and_settings(call: Call, emulator: EmulatorServer) -> None:
    emulator.control.add_key("shop-key", "client")
    assert token_for(call, "shop-key")
    status, _, body = call("PUT", "/_emulator/settings", {"token_ttl": 5})
    assert (status, "token_ttl_s" in body["details"]) == (400, True)


def test_wait_for_events_returns_as_soon_as_they_arrive(
    call: Call, emulator: EmulatorServer
) -> None:
    with pytest.raises(TimeoutError, match="0 arrived"):
        emulator.control.wait_for_events(1, timeout=0.2)
    post_events(call, [event(), event(type="EMPTY_CART")], token_for(call))
    assert len(emulator.control.wait_for_events(2)) == 2
    assert [e["type"] for e in emulator.control.wait_for_events(1, type="EMPTY_CART")] == [
        "EMPTY_CART"
    ]


def test_unknown_routes_answer_json(call: Call) -> None:
    status, _, body = call("GET", "/nowhere")
    assert (status, body["error"]) == (404, "Request failed")


def test_gzip_bodies_are_accepted_and_the_log_counts_wire_bytes(
    call: Call, emulator: EmulatorServer
) -> None:
    import gzip

    token = token_for(call)
    plain = json.dumps({"events": [event(metadata={"note": "x" * 2000})]}).encode()
    packed = gzip.compress(plain)
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        "content-encoding": "gzip",
    }
    status, _, body = call("POST", "/analytics/events", packed, headers)
    assert status == 200
    assert body["data"][0]["status"] == 201
    assert emulator.control.received_events()[0]["metadata"]["note"] == "x" * 2000
    entry = emulator.control.requests()[-1]
    assert entry["body_bytes"] == len(packed) < len(plain) / 10
    assert entry["encoding"] == "gzip"
    assert entry["header_bytes"] > len(f"Bearer {token}")


@pytest.mark.parametrize(
    ("encoding", "body", "status", "title"),
    [
        ("gzip", b"not gzip at all", 400, "Malformed body"),
        ("gzip", __import__("gzip").compress(b'{"events": []}')[:-4], 400, "Malformed body"),
        ("gzip", __import__("gzip").compress(b" " * 600_000), 413, "Payload too large"),
        ("br", b"{}", 415, "Unsupported Content-Encoding"),
    ],
)
def test_bad_encodings_are_refused_with_the_reason(
    call: Call, encoding: str, body: bytes, status: int, title: str
) -> None:
    headers = {
        "authorization": f"Bearer {token_for(call)}",
        "content-type": "application/json",
        "content-encoding": encoding,
    }
    answer_status, _, answer = call("POST", "/analytics/events", body, headers)
    assert (answer_status, answer["error"]) == (status, title)


def test_a_db_file_keeps_its_events_across_starts_unless_reset(tmp_path: Any) -> None:
    from masivo_web.emulator.store import EmulatorState

    path = str(tmp_path / "events.sqlite3")
    with EmulatorServer(db_path=path) as first:
        token = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    first.auth_url,
                    headers={"x-api-key": first.client_key, "x-masivo-sdk": "client"},
                )
            ).read()
        )["data"]
        request = urllib.request.Request(
            first.api_base + "/analytics/events",
            data=json.dumps({"events": [event()]}).encode(),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        urllib.request.urlopen(request).read()
        assert len(first.control.received_events()) == 1
    with EmulatorServer(db_path=path) as again:
        assert len(again.control.received_events()) == 1  # kept
    assert EmulatorState(db_path=path, keep_events=False).db.execute(
        "SELECT COUNT(*) FROM events"
    ).fetchone() == (0,)  # --reset


def test_a_db_file_of_an_earlier_version_takes_copies_after_its_migration(tmp_path: Any) -> None:
    """Earlier versions kept one row per event_id (UNIQUE): such a file keeps its events and
    can then hold a copy of one."""
    import sqlite3

    from masivo_web.emulator.store import EmulatorState

    path = str(tmp_path / "old.sqlite3")
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL "
        "UNIQUE, type TEXT NOT NULL, customer_id TEXT NOT NULL, brand_id TEXT, issued_at TEXT, "
        "received_at REAL NOT NULL, route TEXT NOT NULL, key_kind TEXT NOT NULL, body TEXT NOT "
        "NULL);"
    )
    body = json.dumps(event(event_id=EVENT_ID))
    old.execute(
        "INSERT INTO events (event_id, type, customer_id, received_at, route, key_kind, body) "
        "VALUES (?, 'ADD_TO_CART', 'c-1', 0, 'analytics', 'client', ?)",
        (EVENT_ID, body),
    )
    old.commit()
    old.close()
    state = EmulatorState(db_path=path)
    assert [e["event_id"] for e in state.events()] == [EVENT_ID]
    assert state.store_events([(json.loads(body), None)], route="analytics", key_kind="client") == [
        False
    ]
    assert [e["event_id"] for e in state.events()] == [EVENT_ID, EVENT_ID]  # a copy


@pytest.mark.parametrize(
    ("method", "path", "body", "says"),
    [
        ("PUT", "/_emulator/settings", b'{"token_ttl_s": Infinity}', "token_ttl_s"),
        ("PUT", "/_emulator/settings", b'{"rate_limit": 1e400}', "rate_limit"),
        ("PUT", "/_emulator/settings", b"{oops", "not JSON"),
        ("PUT", "/_emulator/settings", b"[1]", "JSON object"),
        ("PUT", "/_emulator/settings", {"token_ttl_s": None}, "token_ttl_s"),  # found by fuzzing
        ("POST", "/_emulator/faults", {"status": 1000}, "status"),
        ("POST", "/_emulator/faults", {"status": 500, "count": 1e400}, "count"),
        ("POST", "/_emulator/faults", {"delay_s": -1}, "delay_s"),
        ("POST", "/_emulator/chaos", {"kinds": [["a"]]}, "kinds"),
        ("POST", "/_emulator/chaos", {"kinds": ["500"], "probability": 2}, "probability"),
        ("POST", "/_emulator/chaos", {"kinds": ["500"], "seed": "x"}, "seed"),
        ("POST", "/_emulator/keys", b"nope", "not JSON"),
        # Unknown keys are refused, not ignored ({"share": 5} turned on 20% chaos).
        ("POST", "/_emulator/chaos", {"share": 5}, "share"),
        ("POST", "/_emulator/faults", {"status": 500, "times": 3}, "times"),
        ("PUT", "/_emulator/settings", {"rate_limit": 2.5}, "rate_limit"),
        ("POST", "/_emulator/faults", {"status": 500.5}, "status"),
        ("POST", "/_emulator/faults", {"status": 500, "count": 1.5}, "count"),
        ("PUT", "/_emulator/settings", {"dedupe": 1}, "dedupe"),
    ],
)
def test_control_routes_refuse_bad_input_with_a_reason_and_change_nothing(
    call: Call, method: str, path: str, body: Any, says: str
) -> None:
    before = call("GET", "/_emulator/faults")[2], call("GET", "/_emulator/chaos")[2]
    status, _, answer = call(method, path, body, {"content-type": "application/json"})
    assert status == 400, answer
    assert answer["error"] == "Bad control request" and says in answer["details"]
    assert (call("GET", "/_emulator/faults")[2], call("GET", "/_emulator/chaos")[2]) == before
    assert len(token_for(call)) > 20  # tokens are still issued and valid afterwards
    headers = {"authorization": f"Bearer {token_for(call)}", "content-type": "application/json"}
    assert call("POST", "/analytics/events", {"events": [event()]}, headers)[0] == 200


def test_the_root_url_the_demo_prints_says_what_the_emulator_serves(call: Call) -> None:
    status, _, body = call("GET", "/")
    assert status == 200
    assert "POST /api/storefront/v1/analytics/events" in body["api"]
    assert "GET /api/storefront/v1/auth/authorize" in body["api"]
    assert "GET /_emulator/events" in body["control"]
    assert "PUT /_emulator/settings" in body["control"]


def test_a_null_event_id_is_an_absent_one_on_both_routes(
    call: Call, emulator: EmulatorServer
) -> None:
    # Found by the schema fuzzing: it was stored as NULL, a constraint failure and a 500.
    token = token_for(call)
    status, _, body = post_events(call, [event(event_id=None)], token)
    assert status == 200 and body["data"][0]["status"] == 201
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    status, _, single = call("POST", "/behavior/events", event(event_id=None), headers)
    assert status == 201
    stored = {item["event_id"] for item in emulator.control.received_events()}
    assert stored == {body["data"][0]["id"], single["data"]["id"]} and None not in stored


@pytest.mark.parametrize(
    "query",
    [
        "since=99999999999999999999",
        "min_count=-1",
        "since=-5",
        "timeout=x",
        "timeout=1e9",  # was capped silently where other bad values are refused
        "timeout=-1",
        "timeout=nan",
        "timeout=inf",
    ],
)
def test_event_listing_refuses_out_of_range_numbers(call: Call, query: str) -> None:
    # since=<huge> was an OverflowError in SQLite and a 500 (found by the schema fuzzing).
    status, _, body = call("GET", f"/_emulator/events?{query}")
    assert status == 400, body
    assert "since" in body["details"]


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_an_overflowing_number_is_refused_like_nan_and_nothing_is_poisoned(
    call: Call, number: str
) -> None:
    headers = {"authorization": f"Bearer {token_for(call)}", "content-type": "application/json"}
    body = (
        '{"events": [{"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": null, '
        f'"product": {{"sku": "s", "amount": 1, "value": {number}}}}}]}}'
    ).encode()
    status, _, answer = call("POST", "/analytics/events", body, headers)
    assert status == 400 and "finite" in answer["details"]
    single = body[len(b'{"events": [') : -2]
    assert call("POST", "/behavior/events", single, headers)[0] == 400
    assert call("GET", "/_emulator/events")[0] == 200
    assert call("GET", "/_emulator/customers/c-1/events")[0] == 200


def test_no_stored_content_makes_a_view_answer_500(tmp_path: Any) -> None:
    from masivo_web.emulator.store import EmulatorState

    path = str(tmp_path / "poisoned.sqlite3")
    state = EmulatorState(db_path=path)
    state.store_event(  # what an earlier version stored for 1e999
        {
            "type": "X",
            "customer_id": "c-1",
            "brand_id": None,
            "event_id": EVENT_ID,
            "value": float("inf"),
        },
        route="behavior",
        key_kind="client",
    )
    state.db.close()
    with EmulatorServer(db_path=path) as emulator:
        (stored,) = emulator.control.received_events()
        assert stored["value"] == "Infinity"  # shown, not a 500
        assert len(emulator.control.customer_events("c-1")) == 1
