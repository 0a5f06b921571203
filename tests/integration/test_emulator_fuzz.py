"""Every route of the emulator, fuzzed from the OpenAPI document it serves (schemathesis): no
answer is a server error the emulator did not inject, and it answers normally afterwards.

Requests go over real sockets to a running emulator. Each example starts from a reset emulator
and carries a valid key and token (so generated bodies reach the validation past
authentication); what a control call sets up (a fault, chaos, settings) is exercised by one
authorize and one batch right after it, then reset.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.openapi import openapi_document

pytestmark = pytest.mark.emulator
API_PREFIX = "/api/storefront/v1"
EXAMPLES = 40  # per operation: ~25 operations, a few seconds in all


#: Built from the same function the emulator serves it with (the next test checks they agree).
schema = schemathesis.openapi.from_dict(openapi_document(API_PREFIX))


def test_the_emulator_serves_its_openapi_document(masivo_emulator: EmulatorServer) -> None:
    assert _get(masivo_emulator, "/openapi.json") == openapi_document(API_PREFIX)
    assert _get(masivo_emulator, "/")["openapi"] == "GET /openapi.json"


def _get(emulator: EmulatorServer, path: str, headers: dict[str, str] | None = None) -> Any:
    """The JSON answer of a GET that must succeed."""
    status, body = _request(emulator, path, headers or {})
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def _injected(body: bytes) -> bool:
    """A 5xx the emulator was told to answer (a fault, or chaos): not a server error."""
    try:
        return bool(json.loads(body).get("error") == "Injected fault")
    except (ValueError, AttributeError):
        return False


def _request(
    emulator: EmulatorServer, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        emulator.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={**headers, "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _token(emulator: EmulatorServer) -> str:
    answer = _get(emulator, "/auth/authorize", {"x-api-key": emulator.client_key})
    token: str = answer["data"]
    return token


BATCH = {"events": [{"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}]}
FOLLOW_UP = ((f"{API_PREFIX}/auth/authorize", None), (f"{API_PREFIX}/analytics/events", BATCH))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_route_answers_a_server_error(case: Any, masivo_emulator: EmulatorServer) -> None:
    emulator = masivo_emulator
    emulator.control.reset()
    headers = {"x-api-key": emulator.client_key}
    headers.update(case.headers or {})  # generated headers (x-api-key fuzzed on authorize)...
    headers["authorization"] = f"Bearer {_token(emulator)}"  # ...but a valid token: go deep
    if case.query and {"timeout", "min_count"} & set(case.query):
        case.query["timeout"] = "0.2"  # a long poll waits up to 300 s (10 by default): not here
    response = case.call(base_url=emulator.url, headers=headers, timeout=10)
    assert response.status_code < 500 or _injected(response.content), (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
    # What the call set up is used at once: the API answers, or fails only as it was told to
    # (a fault or chaos this call configured may delay, drop or answer 5xx).
    steered = case.formatted_path in ("/_emulator/faults", "/_emulator/chaos")
    steered = steered and response.status_code in (200, 201)
    for path, body in FOLLOW_UP:
        try:
            status, text = _request(emulator, path, headers, body)
        except (urllib.error.URLError, OSError) as exc:  # a delay or a dropped connection
            failure: str | None = f"{path} after {case.method} {case.formatted_path}: {exc}"
            status, text = 0, b""
        else:
            failure = None
        assert failure is None or steered, failure
        assert status < 500 or _injected(text), (path, status, text[:300])
    # And after a reset it answers normally.
    emulator.control.reset()
    clean = {"authorization": f"Bearer {_token(emulator)}"}
    assert _request(emulator, FOLLOW_UP[1][0], clean, BATCH)[0] == 200
