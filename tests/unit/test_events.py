"""Event validation and normalisation: every bad input gets a MasivoValidationError at the call."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from masivo_web import MasivoValidationError
from masivo_web.rules.events import (
    MAX_EVENT_BYTES,
    MAX_NESTING_DEPTH,
    RESERVED_EVENT_TYPES,
    prepare_event,
)
from masivo_web.rules.ids import format_timestamp, new_id

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z
VALID: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def prepare(
    event: Any = None, default_brand_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    if fields:  # keywords win, as in send_analytics_event
        event = {**(event or {}), **fields}
    prepared = prepare_event(event, default_brand_id=default_brand_id, now_epoch=NOW)
    body: dict[str, Any] = json.loads(prepared.json)
    assert prepared.event_id == body["event_id"]
    assert prepared.size == len(prepared.json.encode())
    return body


def test_timestamps_carry_every_millisecond_as_utc_iso_8601() -> None:
    # The milliseconds come from a table built at import: each of the 1,000 entries is checked.
    whole = int(NOW)
    for millis in range(1000):
        epoch = whole + (millis + 0.5) / 1000  # mid-millisecond: no float rounding at the edge
        expected = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
        assert format_timestamp(epoch) == expected.replace("+00:00", "Z")


def test_adds_a_uuid4_event_id_and_a_millisecond_utc_issued_at() -> None:
    body = prepare(VALID)
    assert UUID4.match(body["event_id"])
    assert body["issued_at"] == format_timestamp(NOW)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["issued_at"])


def test_event_ids_are_unique() -> None:
    assert len({new_id() for _ in range(1000)}) == 1000


def test_event_ids_are_rfc_4122_version_4_across_refills() -> None:
    for text in (new_id() for _ in range(600)):  # ids are made 256 at a time
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


@pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "emscripten", reason="no fork() on this platform"
)
def test_a_forked_process_does_not_reuse_its_parents_ids() -> None:
    new_id()  # the parent has ids made ahead
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ",".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        child_ids = set(pipe.read().split(","))
    assert len(child_ids) == 10
    assert not child_ids & {new_id() for _ in range(10)}


def test_keywords_override_the_dict_and_extra_keys_pass_through() -> None:
    body = prepare({**VALID, "customer_id": "old"}, customer_id="new", campaign={"id": 7})
    assert body["customer_id"] == "new"
    assert body["campaign"] == {"id": 7}


def test_later_changes_to_the_callers_dict_do_not_reach_the_queue() -> None:
    event = {**VALID, "product": {"sku": "A", "value": 1}}
    prepared = prepare_event(event, default_brand_id=None, now_epoch=NOW)
    event["product"]["sku"] = "CHANGED"
    assert json.loads(prepared.json)["product"]["sku"] == "A"


@pytest.mark.parametrize("reserved", sorted(RESERVED_EVENT_TYPES))
def test_reserved_types_are_refused_with_a_pointer_to_the_server_api(reserved: str) -> None:
    with pytest.raises(MasivoValidationError, match="SERVER key") as caught:
        prepare({**VALID, "type": reserved})
    assert "REST API" in caught.value.message


def test_reserved_types_are_refused_in_any_spelling() -> None:
    with pytest.raises(MasivoValidationError, match="reserved"):
        prepare({**VALID, "type": "purchase"})


def test_brand_default_is_injected_only_when_a_platform_is_given() -> None:
    event = {"type": "ADD_TO_CART", "customer_id": "c-1", "platform": "web"}
    assert prepare(event, default_brand_id="brand-9")["brand_id"] == "brand-9"
    assert prepare({**event, "brand_id": None}, default_brand_id="brand-9")["brand_id"] is None
    assert prepare({**event, "brand_id": "own"}, default_brand_id="brand-9")["brand_id"] == "own"
    with pytest.raises(MasivoValidationError, match="brand_id"):
        prepare({"type": "ADD_TO_CART", "customer_id": "c-1"}, default_brand_id="brand-9")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("ADD_TO_CART", "must be a dict"),
        ({"customer_id": "c", "brand_id": None}, "'type'"),
        ({**VALID, "type": ""}, "'type'"),
        ({**VALID, "type": " ADD_TO_CART"}, "spaces"),
        ({**VALID, "type": 5}, "'type'"),
        ({**VALID, "customer_id": None}, "customer_id"),
        ({**VALID, "customer_id": ""}, "customer_id"),
        ({**VALID, "customer_id": 42}, r"str\(42\)"),
        ({"type": "ADD_TO_CART", "customer_id": "c"}, "brand_id=None"),
        ({**VALID, "brand_id": 3}, "brand_id"),
        ({**VALID, "platform": 1}, "platform"),
        ({**VALID, "metadata": [1]}, "metadata"),
        ({**VALID, "order": "x"}, "order"),
        ({**VALID, "tags": "a,b"}, "tags"),
        ({**VALID, "tags": ["a", 1]}, "tags"),
        ({**VALID, "product": "SKU"}, "product"),
        ({**VALID, "product": {"sku": 1}}, "sku"),
        ({**VALID, "product": {"value": "29.99"}}, "value"),
        ({**VALID, "product": {"amount": True}}, "amount"),
        ({**VALID, "product": {"tags": [None]}}, "tags"),
        ({**VALID, "product": {"metadata": 1}}, "metadata"),
        ({**VALID, "event_id": "not-a-uuid"}, "UUID"),
        ({**VALID, 1: "numeric key"}, "keys must be strings"),
        # an event type is a name: one line, of a name's length
        ({**VALID, "type": "ADD\nTO_CART"}, "control character"),
        ({**VALID, "type": "ADD_TO_CART\x00"}, "control character"),
        ({**VALID, "type": "A" * 10_000}, "at most 128 characters"),
        # the fields the SDK fills in, when the caller gives them, have the SDK's shapes
        ({**VALID, "anonymous_id": 5}, "'anonymous_id' must be a non-empty string"),
        ({**VALID, "anonymous_id": ""}, "'anonymous_id' must be a non-empty string"),
        ({**VALID, "context": {"page": 5}}, r"'context\.page' must be a dict"),
        ({**VALID, "context": {"page": {"url": 5}}}, r"'context\.page\.url' must be a string"),
        ({**VALID, "context": {"locale": ["en"]}}, r"'context\.locale' must be a string"),
        ({**VALID, "context": {"library": "x"}}, r"'context\.library' must be a dict"),
        # the hints JSON values get, on the checked fields too
        ({**VALID, "customer_id": uuid.UUID(int=1)}, r"str\(value\)"),
        ({**VALID, "product": {"value": __import__("decimal").Decimal("9.99")}}, r"float\(value\)"),
        ({**VALID, "platform": uuid.UUID(int=1)}, r"str\(value\)"),
    ],
)
def test_bad_fields_are_named_in_the_error(event: Any, message: str) -> None:
    with pytest.raises(MasivoValidationError, match=message):
        prepare(event)


def test_the_sdks_own_fields_given_in_their_shapes_are_kept() -> None:
    context = {"page": {"url": "https://shop.test/", "path": "/"}, "locale": "es", "extra": [1]}
    event = prepare({**VALID, "type": "A" * 128, "anonymous_id": "anon-1", "context": context})
    assert (event["anonymous_id"], event["context"]) == ("anon-1", context)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, b"bytes", {1, 2}, object(), "\ud800"],
    ids=["nan", "inf", "-inf", "bytes", "set", "object", "lone-surrogate"],
)
def test_values_json_cannot_carry_are_refused(value: Any) -> None:
    with pytest.raises(MasivoValidationError, match="JSON"):
        prepare({**VALID, "metadata": {"x": value}})


def test_cycles_and_deep_nesting_are_refused_without_recursing() -> None:
    # In Pyodide 314, json.dumps of a ~9 000-deep value overflows the wasm stack and kills the
    # interpreter (freeing such a value does too, so the test cannot build one there). 5 000
    # levels is something json.dumps would accept: only the SDK's own check refuses it.
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(MasivoValidationError, match="cycle"):
        prepare({**VALID, "metadata": cycle})
    deep: list[Any] = []
    for _ in range(5_000):
        deep = [deep]
    with pytest.raises(MasivoValidationError, match="deeper than 32"):
        prepare({**VALID, "metadata": {"deep": deep}})


def test_nesting_up_to_the_limit_is_accepted() -> None:
    nested: Any = "leaf"
    for _ in range(MAX_NESTING_DEPTH - 1):  # the event is level 1, metadata level 2
        nested = {"k": nested}
    assert prepare({**VALID, "metadata": nested})
    with pytest.raises(MasivoValidationError, match="deeper"):
        prepare({**VALID, "metadata": {"one more": nested}})


def test_events_over_32_kb_are_refused_and_just_under_passes() -> None:
    overhead = len(
        prepare_event({**VALID, "metadata": {"p": ""}}, default_brand_id=None, now_epoch=NOW).json
    )
    fits = "x" * (MAX_EVENT_BYTES - overhead)
    assert prepare({**VALID, "metadata": {"p": fits}})
    with pytest.raises(MasivoValidationError, match="at most 32768"):
        prepare({**VALID, "metadata": {"p": fits + "x"}})


def test_custom_event_id_is_kept() -> None:
    event_id = "6f1d3a50-1b2c-4d5e-8f90-123456789abc"
    assert prepare({**VALID, "event_id": event_id})["event_id"] == event_id


NOW_DT = datetime.fromtimestamp(NOW, UTC)


@pytest.mark.parametrize(
    ("issued_at", "expected"),
    [
        (NOW_DT - timedelta(hours=1), format_timestamp(NOW - 3600)),
        ((NOW_DT - timedelta(hours=2)).isoformat(), format_timestamp(NOW - 7200)),
        (format_timestamp(NOW - 60), format_timestamp(NOW - 60)),
        (
            (NOW_DT - timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))),
            format_timestamp(NOW - 3600),
        ),
        (NOW_DT + timedelta(minutes=4), format_timestamp(NOW + 240)),
    ],
)
def test_issued_at_is_accepted_for_backfill_and_normalised_to_utc(
    issued_at: Any, expected: str
) -> None:
    assert prepare({**VALID, "issued_at": issued_at})["issued_at"] == expected


@pytest.mark.parametrize(
    ("issued_at", "message"),
    [
        (NOW_DT - timedelta(hours=73), "older than 72 hours"),
        (NOW_DT + timedelta(minutes=10), "future"),
        (datetime(2026, 11, 18, 9, 0), "no timezone"),
        ("yesterday", "ISO-8601"),
        (1_795_000_000, "ISO-8601"),
    ],
)
def test_issued_at_out_of_range_or_ambiguous_is_refused(issued_at: Any, message: str) -> None:
    with pytest.raises(MasivoValidationError, match=message):
        prepare({**VALID, "issued_at": issued_at})


def test_nesting_inside_mapping_subclasses_is_seen() -> None:
    from collections import OrderedDict

    deep: Any = "leaf"
    for _ in range(MAX_NESTING_DEPTH + 5):
        deep = OrderedDict(k=deep)
    with pytest.raises(MasivoValidationError, match="deeper"):
        prepare({**VALID, "metadata": OrderedDict(x=deep)})


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (__import__("decimal").Decimal("9.99"), r"float\(value\)"),
        (__import__("datetime").datetime(2026, 1, 1), r"\.isoformat\(\)"),
        (__import__("datetime").date(2026, 1, 1), r"\.isoformat\(\)"),
        (__import__("uuid").UUID(int=1), r"str\(value\)"),
        ({1, 2}, r"list\(value\)"),
        (b"x", r"\.decode\(\)"),
    ],
    ids=["decimal", "datetime", "date", "uuid", "set", "bytes"],
)
def test_common_values_json_cannot_carry_get_a_hint(value: Any, hint: str) -> None:
    with pytest.raises(MasivoValidationError, match=hint):
        prepare({**VALID, "properties": {"x": value}})


def test_nested_keys_must_be_strings_too() -> None:
    # json would write {1: "a", "1": "b"} as two "1" keys: refused like a top-level one.
    with pytest.raises(MasivoValidationError, match=r"keys must be strings.*metadata"):
        prepare({**VALID, "metadata": {1: "a", "1": "b"}})
    with pytest.raises(MasivoValidationError, match="keys must be strings"):
        prepare({**VALID, "properties": {"deep": [{"ok": {2: "x"}}]}})


def test_an_event_too_large_names_its_largest_field() -> None:
    with pytest.raises(MasivoValidationError, match="'properties'"):
        prepare({**VALID, "metadata": {"a": 1}, "properties": {"pad": "x" * 40_000}})


def test_a_missing_brand_id_says_when_the_clients_default_applies() -> None:
    with pytest.raises(MasivoValidationError, match="only for events with a 'platform'"):
        prepare({"type": "ADD_TO_CART", "customer_id": "c"}, default_brand_id="brand-456")
    with_platform = prepare(
        {"type": "ADD_TO_CART", "customer_id": "c", "platform": "web"},
        default_brand_id="brand-456",
    )
    assert with_platform["brand_id"] == "brand-456"
