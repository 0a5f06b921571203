"""Property tests: whatever garbage a page hands send_analytics_event, the call raises
MasivoValidationError at once, and the events queued before it are intact and delivered."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masivo_web import MasivoValidationError, create_client
from masivo_web.rules.events import MAX_EVENT_BYTES
from masivo_web.runtime.interpreter import IS_BROWSER
from tests.fakes import FakeClock, FakeMasivo

# Pyodide runs these too (tools/pyodide_node), about 10x slower: fewer examples there.
EXAMPLES = 30 if IS_BROWSER else 300
BASE: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
NOW = FakeClock().time()

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
unserialisable = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.binary(min_size=1),
    st.frozensets(st.integers(), min_size=1),
    st.sets(st.integers(), min_size=1),
    st.builds(object),
    st.complex_numbers(allow_nan=False),
)


def cyclic() -> Any:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _bad_issued_at() -> st.SearchStrategy[Any]:
    # Out of Masivo's window is bad input only once the service's time is known (these clients
    # have not heard from it yet): tests/unit/test_clock_skew.py covers that case.
    naive = st.datetimes(timezones=st.none())
    return st.one_of(
        naive,
        st.text(max_size=12),
        st.integers(),
        st.floats(),
    )


bad_events = st.one_of(
    # values JSON cannot carry, anywhere in metadata
    st.builds(lambda v, k: {**BASE, "metadata": {k: v}}, unserialisable, st.text(max_size=5)),
    st.builds(lambda v: {**BASE, "metadata": {"list": [1, v]}}, unserialisable),
    st.just({**BASE, "metadata": cyclic()}),
    st.integers(40, 300).map(lambda d: {**BASE, "metadata": nested(d)}),
    st.integers(40, 5000).map(lambda d: {**BASE, "metadata": [nested(d)]}),
    st.integers(40, 5000).map(lambda d: {**BASE, "brand_id": nested(d)}),
    # over 32 KB
    st.integers(MAX_EVENT_BYTES, MAX_EVENT_BYTES * 3).map(
        lambda n: {**BASE, "metadata": {"blob": "x" * n}}
    ),
    # wrong types for required fields
    st.builds(
        lambda v: {**BASE, "type": v},
        st.one_of(
            st.none(),
            st.integers(),
            st.just(""),
            json_value.filter(lambda v: not isinstance(v, str)),
        ),
    ),
    st.builds(
        lambda v: {**BASE, "customer_id": v},
        st.one_of(st.none(), st.integers(), st.just(""), st.lists(st.text(), max_size=2)),
    ),
    st.builds(
        lambda v: {**BASE, "brand_id": v},
        st.one_of(st.integers(), st.booleans(), st.lists(st.text(), max_size=2)),
    ),
    st.just({"type": "ADD_TO_CART", "customer_id": "c-1"}),
    # reserved types in any spelling
    st.sampled_from(
        ["PURCHASE", "purchase", "Abandoned_Cart", "BIRTHDAY", "registration", "TIER_ADJUSTMENT"]
    ).map(lambda t: {**BASE, "type": t}),
    # issued_at out of range or ambiguous
    st.builds(lambda v: {**BASE, "issued_at": v}, _bad_issued_at()),
    # not a dict at all
    st.one_of(st.text(), st.integers(), st.lists(st.integers(), max_size=3)),
)


async def _queue_then_garbage(bad: Any) -> None:
    masivo = FakeMasivo(FakeClock())
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    good = [client.send_analytics_event(BASE, metadata={"n": n}) for n in range(3)]
    try:
        client.send_analytics_event(bad)
    except MasivoValidationError:
        pass
    else:
        raise AssertionError(f"accepted: {bad!r}"[:300])
    assert [client.where(d.event_id) for d in good] == ["queued"] * 3
    await client.flush()
    results = await asyncio.gather(*good)
    assert [result.status for result in results] == [201, 201, 201]
    assert [event["metadata"]["n"] for event in masivo.batches[0]] == [0, 1, 2]
    client.destroy()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad_events)
def test_bad_input_is_refused_at_the_call_and_never_damages_the_queue(bad: Any) -> None:
    asyncio.run(_queue_then_garbage(bad))


@settings(max_examples=EXAMPLES, deadline=None)
@given(metadata=st.dictionaries(st.text(max_size=8), json_value, max_size=5), extra=json_value)
def test_any_json_shaped_event_is_accepted_and_sent_exactly_as_given(
    metadata: dict[str, Any], extra: Any
) -> None:
    async def run() -> None:
        masivo = FakeMasivo(FakeClock())
        client = create_client("k", transport=masivo.transport, clock=masivo.clock)
        delivery = client.send_analytics_event(BASE, metadata=metadata, extra=extra)
        await client.flush()
        (sent,) = masivo.batches[0]
        assert sent["metadata"] == json.loads(json.dumps(metadata))
        assert sent["extra"] == json.loads(json.dumps(extra))
        assert sent["event_id"] == delivery.event_id
        client.destroy()

    asyncio.run(run())
