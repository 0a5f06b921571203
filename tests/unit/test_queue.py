"""Batch timing and selection (pure): count, idle, max wait, manual flush, bytes, retries."""

from __future__ import annotations

from typing import cast

import pytest

from masivo_web.rules.events import prepare_event
from masivo_web.rules.queue import EventQueue, QueuedEvent
from masivo_web.rules.results import Delivery


def make_queue(**overrides: float) -> EventQueue:
    settings = {"batch_size": 100, "idle_flush_s": 30.0, "max_wait_s": 60.0} | overrides
    return EventQueue(**settings)  # type: ignore[arg-type]


def add(queue: EventQueue, now: float, *, padding: int = 0) -> QueuedEvent:
    event = {"type": "ADD_TO_CART", "customer_id": "c", "brand_id": None, "pad": "x" * padding}
    prepared = prepare_event(event, default_brand_id=None, now_epoch=1_795_000_000.0)
    # The queue only carries deliveries; a stand-in avoids needing an event loop here.
    return queue.append(prepared, cast(Delivery, object()), now)


def test_empty_queue_has_no_deadline_and_no_batch() -> None:
    queue = make_queue()
    assert queue.next_due(0.0) is None
    assert queue.take_batch(1e9) == []


def test_idle_timer_fires_30_s_after_the_last_event() -> None:
    queue = make_queue()
    add(queue, 0.0)
    add(queue, 10.0)
    assert queue.next_due(10.0) == 40.0
    assert queue.take_batch(39.9) == []
    assert len(queue.take_batch(40.0)) == 2


def test_max_wait_fires_60_s_after_the_oldest_event_even_with_steady_traffic() -> None:
    queue = make_queue()
    for second in range(0, 60, 10):
        add(queue, float(second))
    assert queue.next_due(50.0) == 60.0
    assert len(queue.take_batch(60.0)) == 6


def test_count_trigger_makes_a_full_batch_due_at_once() -> None:
    queue = make_queue(batch_size=3)
    add(queue, 0.0)
    add(queue, 0.0)
    assert queue.next_due(0.0) == 30.0
    add(queue, 0.0)
    assert queue.next_due(0.0) == 0.0
    assert len(queue.take_batch(0.0)) == 3


def test_batches_hold_at_most_batch_size_events_in_order() -> None:
    queue = make_queue()
    items = [add(queue, 0.0) for _ in range(250)]
    queue.request_flush()
    sizes = []
    taken: list[QueuedEvent] = []
    while batch := queue.take_batch(0.0):
        sizes.append(len(batch))
        taken += batch
    assert sizes == [100, 100, 50]
    assert taken == items


def test_manual_flush_covers_only_events_queued_before_it() -> None:
    queue = make_queue()
    add(queue, 0.0)
    queue.request_flush()
    add(queue, 1.0)
    batch = queue.take_batch(1.0)
    assert len(batch) == 2  # the later event rides along: sending early is harmless
    add(queue, 2.0)
    assert queue.next_due(2.0) == 32.0


def test_batches_stay_under_the_byte_limit() -> None:
    queue = make_queue(max_batch_bytes=10_000)
    for _ in range(10):
        add(queue, 0.0, padding=3000)
    queue.request_flush()
    sizes = []
    while batch := queue.take_batch(0.0):
        sizes.append(len(batch))
        body = 13 + sum(item.event.size for item in batch) + len(batch) - 1
        assert body <= 10_000
    assert sizes == [3, 3, 3, 1]


def test_retried_events_wait_for_their_backoff_and_keep_their_place() -> None:
    queue = make_queue()
    first, second = add(queue, 0.0), add(queue, 0.0)
    queue.request_flush()
    batch = queue.take_batch(0.0)
    later = add(queue, 1.0)
    queue.put_back(batch, ready_at=5.0)
    assert (first.attempts, second.attempts) == (1, 1)
    assert queue.next_due(1.0) == 5.0
    assert queue.take_batch(4.9) == []
    assert queue.take_batch(5.0) == [first, second, later]


@pytest.mark.parametrize("now", [0.0, 100.0])
def test_clear_returns_everything(now: float) -> None:
    queue = make_queue()
    items = [add(queue, now) for _ in range(3)]
    assert queue.clear() == items
    assert len(queue) == 0
