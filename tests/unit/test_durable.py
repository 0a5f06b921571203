"""Nothing lost, nothing doubled, under CPython with fake pages: write-ahead storage, adoption of
a closed tab's events by exactly one other tab, bounds, expiry, offline, storage failures.
(The same with real localStorage and Web Locks: tests/browser/test_durability.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from masivo_web import MasivoDroppedError, MasivoError, create_client
from masivo_web.browser.liveness import LEASE_TTL_S, LeaseLiveness
from masivo_web.browser.page import Page
from masivo_web.browser.storage import FallbackStorage
from masivo_web.engine.event_store import SEGMENT_EVENTS, EventStore
from masivo_web.rules.events import prepare_event
from masivo_web.rules.keepalive import KEEPALIVE_BUDGET_BYTES
from masivo_web.rules.policy import DeliveryPolicy
from masivo_web.rules.ports import MemoryStorage
from tests.fakes import FakeClock, FakeLocalStorage, FakeMasivo, fake_page, settle

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
KEY = "client-key-that-must-never-be-stored"
MAX_EVENT_AGE_S = DeliveryPolicy().max_event_age_s
MEMORY_QUEUE_BOUNDS = DeliveryPolicy().memory_bounds
STORED_QUEUE_BOUNDS = DeliveryPolicy().stored_bounds


def go_offline(page: Page, offline: bool = True) -> None:
    """The browser says the network is gone (or back)."""
    page.navigator.onLine = not offline
    page.window.fire("offline" if offline else "online")


class TabClock:
    """The site's clock as one tab sees it: once the tab is closed, its tasks never wake."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.closed = False

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def time(self) -> float:
        return self.clock.time()

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        if self.closed:
            await asyncio.Event().wait()  # a closed tab runs nothing more


_tab_clocks: dict[int, TabClock] = {}


def tab_client(page: Page | None, masivo: FakeMasivo, **options: Any) -> Any:
    """A client in ``page`` (None: no page, as under CPython)."""
    clock = TabClock(masivo.clock)
    client = create_client(KEY, transport=masivo.transport, clock=clock, page=page, **options)
    _tab_clocks[id(client)] = clock
    return client


def close_tab(client: Any) -> None:
    """What closing a tab does to its client: its tasks stop, nothing is cleaned up."""
    _tab_clocks[id(client)].closed = True


def segments(site: Any) -> dict[str, str]:
    return {k: v for k, v in site.storage.data.items() if ":ev:" in k}


def stored(site: Any) -> dict[str, str]:
    """The stored events, by event_id (a segment key holds several)."""
    events = {}
    for record in segments(site).values():
        for line in record.split("\n")[1:]:
            events[json.loads(line.split("|", 2)[2])["event_id"]] = line
    return events


async def test_events_are_stored_before_sending_and_removed_once_acknowledged(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    delivery = client.send_analytics_event(EVENT)
    assert stored(site) == {}  # never inside the tracking call: on the loop's next turn
    await asyncio.sleep(0)
    assert list(stored(site)) == [delivery.event_id]
    assert masivo.event_requests == []
    await client.flush()
    assert stored(site) == {}
    client.destroy()


async def test_reset_sends_the_last_customers_queued_events_at_once_and_frees_their_storage(
    site: Any, masivo: FakeMasivo
) -> None:
    # A logout on a shared computer: the traits and pages of the customer who left must not
    # wait in localStorage for the idle timer (30 s), nor be dropped (they happened).
    tab = site()
    client = tab_client(tab, masivo)
    await client.get_token()
    client.identify("customer-9", {"email": "nine@example.test"})
    client.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    await asyncio.sleep(0)
    assert len(stored(site)) == 2 and "nine@example.test" in "".join(stored(site).values())
    client.reset()
    await masivo.clock.advance(0.1)  # far less than the idle timer
    sent = [event for batch in masivo.batches for event in batch]
    assert [event["customer_id"] for event in sent] == ["customer-9", "customer-9"]
    assert stored(site) == {}
    client.destroy()


async def test_a_burst_is_stored_in_a_few_keys_and_an_acknowledged_batch_frees_them(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    writes: list[str] = []
    original = site.storage.setItem

    def counted(key: str, value: str) -> None:
        writes.append(key)
        original(key, value)

    site.storage.setItem = counted
    client = tab_client(tab, masivo, idle_flush_s=3600, max_wait_s=3600)
    writes.clear()  # the client's own start-up writes (identity, lease)
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(SEGMENT_EVENTS * 2 + 50)]
    await asyncio.sleep(0)
    assert len(segments(site)) == len([w for w in writes if ":ev:" in w]) == 3
    assert list(stored(site)) == ids
    more = client.send_analytics_event(EVENT).event_id  # a later turn: a segment of its own
    await asyncio.sleep(0)
    assert len(segments(site)) == 4
    await settle()  # full batches were sent at once, each within the keepalive room
    sent = sum(len(batch) for batch in masivo.batches)
    assert sent >= 2 * SEGMENT_EVENTS - 50
    assert all(len(r.body or b"") <= KEEPALIVE_BUDGET_BYTES for r in masivo.event_requests)
    assert list(stored(site)) == [*ids[sent:], more]  # acknowledged: out of storage
    assert len(segments(site)) < 4
    await client.flush()
    assert segments(site) == {}
    client.destroy()


async def test_hiding_the_page_stores_its_events_at_once_even_offline(
    site: Any, masivo: FakeMasivo
) -> None:
    page = tab = site()
    client = tab_client(tab, masivo)
    page.navigator.onLine = False
    page.window.fire("offline")
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(3)]
    page.document.visibilityState = "hidden"
    page.document.fire("visibilitychange")  # the page may be gone before the next turn
    assert list(stored(site)) == ids
    client.destroy()


async def test_no_key_or_token_ever_reaches_storage(site: Any, masivo: FakeMasivo) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    client.send_analytics_event(EVENT)
    token = await client.get_token()
    everything = json.dumps(site.storage.data)
    assert KEY not in everything
    assert token not in everything
    client.destroy()


async def test_a_closed_tabs_events_are_sent_by_the_next_page_with_the_same_ids(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    closed = tab_client(tab, masivo)
    ids = [closed.send_analytics_event(EVENT).event_id for _ in range(30)]  # same millisecond
    close_tab(closed)  # nothing was sent; its lease is no longer renewed
    await masivo.clock.advance(LEASE_TTL_S + 1)
    assert masivo.batches == []
    tab = site()
    reopened = tab_client(tab, masivo)
    await masivo.clock.advance(1)  # adoption claims, then verifies its claim 0.2 s later
    await reopened.flush()
    assert [event["event_id"] for event in masivo.batches[-1]] == ids
    assert stored(site) == {}
    reopened.destroy()


async def test_a_live_tabs_events_are_not_taken_by_another_tab(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    first = tab_client(tab, masivo, idle_flush_s=3600, max_wait_s=3600)
    first.send_analytics_event(EVENT)
    await settle()
    tab = site()
    second = tab_client(tab, masivo)
    await masivo.clock.advance(10)  # both renew their leases; nobody is an orphan
    await second.flush()
    assert masivo.batches == []
    first.destroy()
    second.destroy()


async def test_two_new_tabs_never_both_send_a_closed_tabs_events(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    closed = tab_client(tab, masivo)
    ids = {closed.send_analytics_event(EVENT).event_id for _ in range(20)}
    close_tab(closed)
    await masivo.clock.advance(LEASE_TTL_S + 1)
    tab = site()
    left = tab_client(tab, masivo)
    tab = site()
    right = tab_client(tab, masivo)  # both start adopting in the same tick
    await masivo.clock.advance(1)
    await asyncio.gather(left.flush(), right.flush())
    sent = [event["event_id"] for batch in masivo.batches for event in batch]
    assert sorted(sent) == sorted(ids)  # every event once: none lost, none doubled
    left.destroy()
    right.destroy()


async def test_stored_events_are_scanned_only_when_an_owner_goes_or_once_a_minute(
    site: Any, masivo: FakeMasivo, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: list[str] = []
    claim = EventStore.claim_orphans

    def counted(store: EventStore, alive: set[str]) -> Any:
        scans.append(store.owner)
        return claim(store, alive)

    monkeypatch.setattr(EventStore, "claim_orphans", counted)
    tab = site()
    first = tab_client(tab, masivo, idle_flush_s=3600, max_wait_s=3600)
    ids = [first.send_analytics_event(EVENT).event_id for _ in range(3)]
    tab = site()
    second = tab_client(tab, masivo)
    await masivo.clock.advance(1)  # both tabs made their first look
    assert len(scans) == 2  # each tab looked once at start
    await masivo.clock.advance(50)  # ten maintenance rounds, nobody left
    assert len(scans) == 2
    close_tab(first)
    await masivo.clock.advance(LEASE_TTL_S + 6)  # its lease lapses: the second tab looks
    await second.flush()
    assert [event["event_id"] for event in masivo.batches[-1]] == ids
    looked = len(scans)
    await masivo.clock.advance(60)  # and still looks once a minute
    assert len(scans) == looked + 1
    second.destroy()


def test_unreadable_records_are_removed_not_sent() -> None:
    storage = MemoryStorage()
    store = EventStore(storage, "ns", owner="me")
    storage.set(store.prefix + "broken", "garbage")
    storage.set(store.prefix + "half", "other\n1.0|1|{not json")
    storage.set(store.prefix + "empty", "other\n")
    assert store.claim_orphans(alive={"me"}) == []
    assert storage.keys(store.prefix) == []


async def test_leases_expire(clock: FakeClock) -> None:
    storage = MemoryStorage()
    lease = LeaseLiveness(storage, "ns", clock)
    lease.hold("tab-1")
    assert await lease.alive() == {"tab-1"}
    await clock.advance(LEASE_TTL_S + 0.1)
    assert await lease.alive() == set()
    lease.renew()
    assert await lease.alive() == {"tab-1"}
    lease.release()
    assert await lease.alive() == set()


async def test_the_queue_is_bounded_and_the_oldest_are_dropped_and_reported(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    reported: list[tuple[MasivoError, str]] = []
    client = tab_client(
        tab,
        masivo,
        idle_flush_s=3600,
        max_wait_s=3600,
        batch_size=100,
        on_error=lambda error, event_id: reported.append((error, event_id)),
    )
    go_offline(tab)  # nothing leaves: the queue only grows
    deliveries = [client.send_analytics_event(EVENT) for _ in range(MEMORY_QUEUE_BOUNDS[0] + 5)]
    assert sum(client.where(d.event_id) == "queued" for d in deliveries) == MEMORY_QUEUE_BOUNDS[0]
    assert [event_id for _, event_id in reported] == [d.event_id for d in deliveries[:5]]
    assert all(isinstance(error, MasivoDroppedError) for error, _ in reported)
    await asyncio.sleep(0)
    # Storage holds the oldest kept events up to its own bound; the rest wait in memory.
    kept = [d.event_id for d in deliveries[5:]]
    assert list(stored(site)) == kept[: STORED_QUEUE_BOUNDS[0]]
    client.destroy()


async def test_a_burst_past_the_stored_bound_waits_in_memory_and_is_stored_as_room_frees(
    site: Any, masivo: FakeMasivo
) -> None:
    page = tab = site()
    client = tab_client(tab, masivo, idle_flush_s=3600, max_wait_s=3600)
    await client.get_token()
    page.navigator.onLine = False
    page.window.fire("offline")
    burst = STORED_QUEUE_BOUNDS[0] + 250
    deliveries = [client.send_analytics_event(EVENT) for _ in range(burst)]
    await asyncio.sleep(0)
    assert len(stored(site)) == STORED_QUEUE_BOUNDS[0]  # localStorage stays within its bound
    assert all(not d.done() for d in deliveries)  # and nothing was dropped
    page.navigator.onLine = True
    page.window.fire("online")
    await masivo.clock.advance(2)
    await client.flush()
    assert all(d.done() and d.error is None for d in deliveries)
    sent = [event["event_id"] for batch in masivo.batches for event in batch]
    assert sorted(sent) == sorted(d.event_id for d in deliveries)
    assert stored(site) == {}
    client.destroy()


def test_the_stored_bound_counts_bytes_too() -> None:
    storage = MemoryStorage()
    store = EventStore(storage, "ns", owner="me", schedule=lambda write: None, bounds=(100, 3000))
    events = [
        prepare_event(
            {**EVENT, "metadata": {"n": n, "pad": "x" * 900}}, default_brand_id=None, now_epoch=1e9
        )
        for n in range(5)
    ]
    for event in events:
        store.save(event, 1.0)
    store.write()
    assert store.stored_events == 2  # a third would pass 3,000 bytes
    store.forget(events[0].event_id)
    store.write()  # room again: the next in line is stored
    assert store.stored_events == 2
    assert events[2].event_id in storage.items[next(reversed(storage.items))]


async def test_a_memory_only_queue_is_bound_by_memory_not_by_storage(masivo: FakeMasivo) -> None:
    masivo.authorize_delay = asyncio.Event()  # nothing can leave: the queue only grows
    client = tab_client(None, masivo)  # CPython: no page, no storage
    deliveries = [client.send_analytics_event(EVENT) for _ in range(STORED_QUEUE_BOUNDS[0] + 1)]
    await settle()
    assert not any(delivery.done() for delivery in deliveries)  # none dropped
    assert client.pending_events == STORED_QUEUE_BOUNDS[0] + 1 < MEMORY_QUEUE_BOUNDS[0]
    client.destroy()


async def test_events_older_than_the_retry_window_are_dropped(
    site: Any, masivo: FakeMasivo
) -> None:
    assert MAX_EVENT_AGE_S == 24 * 3600  # the default; a minute here, for speed
    tab = site()
    client = tab_client(tab, masivo, policy=DeliveryPolicy(max_event_age_s=60))
    go_offline(tab)
    delivery = client.send_analytics_event(EVENT)
    await masivo.clock.advance(61)
    go_offline(tab, False)
    await masivo.clock.advance(2)
    with pytest.raises(MasivoDroppedError, match="waited over 60 seconds"):
        await delivery
    assert masivo.batches == []
    client.destroy()


async def test_offline_pauses_sending_and_online_resumes_it(site: Any, masivo: FakeMasivo) -> None:
    page = tab = site()
    client = tab_client(tab, masivo)
    page.navigator.onLine = False
    page.window.fire("offline")
    for _ in range(100):  # even a full batch waits
        client.send_analytics_event(EVENT)
    page.document.visibilityState = "hidden"
    page.document.fire("visibilitychange")  # and the page-hide flush does not try
    await masivo.clock.advance(120)
    assert masivo.event_requests == []
    page.navigator.onLine = True
    page.window.fire("online")
    await masivo.clock.advance(0.5)
    assert masivo.event_requests == []  # resumes a moment after coming back
    await masivo.clock.advance(1)
    assert sum(len(batch) for batch in masivo.batches) == 100  # all, within keepalive room
    client.destroy()


async def test_a_full_storage_falls_back_to_memory_with_one_warning(
    site: Any, masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    tab = site()
    site.storage.full = True
    client = tab_client(tab, masivo)
    deliveries = [client.send_analytics_event(EVENT) for _ in range(3)]
    await client.flush()
    assert all(result.success for result in await asyncio.gather(*deliveries))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "in memory only" in warnings[0]
    client.destroy()


async def test_disabled_storage_keeps_working_in_memory(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    client = tab_client(fake_page(None), masivo)
    delivery = client.send_analytics_event(EVENT)
    await client.flush()
    assert (await delivery).success
    assert "storage is disabled" in caplog.text
    client.destroy()


def test_fallback_storage_degrades_once_and_keeps_reading_old_entries() -> None:
    class Flaky(MemoryStorage):
        fail = False

        def set(self, key: str, value: str) -> None:
            if self.fail:
                raise RuntimeError("quota")
            super().set(key, value)

    primary = Flaky()
    storage = FallbackStorage(primary)
    storage.set("a", "1")
    primary.fail = True
    storage.set("b", "2")
    assert storage.degraded
    assert storage.get("b") == "2"
    assert storage.keys("") == ["b"]  # once degraded, memory is the store
    storage.remove("a")
    assert primary.get("a") is None  # old entries are still cleaned up


async def test_destroy_forgets_the_stored_copies(site: Any, masivo: FakeMasivo) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    client.send_analytics_event(EVENT)
    client.destroy()
    assert stored(site) == {}


async def test_rejected_events_leave_storage_and_retried_ones_stay_until_final(
    site: Any, masivo: FakeMasivo
) -> None:
    from tests.fakes import json_response

    tab = site()
    masivo.script("events", json_response(503, {"error": "busy"}))
    client = tab_client(tab, masivo)
    client.send_analytics_event(EVENT)
    asyncio.get_running_loop().create_task(client.flush())
    await settle()
    assert len(stored(site)) == 1  # waiting for its retry: still stored
    await masivo.clock.advance(2)
    assert stored(site) == {}
    masivo.script("events", json_response(422, {"error": "bad"}))
    rejected = client.send_analytics_event(EVENT)
    await client.flush()
    with pytest.raises(MasivoError):
        await rejected
    assert stored(site) == {}
    client.destroy()


def test_records_round_trip_the_exact_event_json() -> None:
    storage = MemoryStorage()
    event = prepare_event(
        {**EVENT, "metadata": {"emoji": "☕|x"}}, default_brand_id=None, now_epoch=1e9
    )
    gone = EventStore(storage, "ns", owner="gone", schedule=lambda write: None)
    gone.save(event, 123.5)
    assert storage.keys(gone.prefix) == []  # saved, not yet written
    gone.write()
    (claimed,) = EventStore(storage, "ns", owner="me").claim_orphans(alive={"me"})
    assert claimed.event == event
    assert claimed.queued_epoch == 123.5


def test_a_segment_claimed_by_two_tabs_stays_with_the_last_writer() -> None:
    storage = MemoryStorage()
    gone = EventStore(storage, "ns", owner="gone", schedule=lambda write: None)
    for _ in range(3):
        gone.save(prepare_event(EVENT, default_brand_id=None, now_epoch=1e9), 1.0)
    gone.write()
    left = EventStore(storage, "ns", owner="left", schedule=lambda write: None)
    right = EventStore(storage, "ns", owner="right", schedule=lambda write: None)
    left_claim = left.claim_orphans(alive={"left"})
    right_claim = right.claim_orphans(alive={"right"})  # "left" looked dead to it as well
    assert len(left_claim) == len(right_claim) == 3
    assert left.keep_claims(left_claim) == []
    assert right.keep_claims(right_claim) == right_claim
    left.forget(left_claim[0].event.event_id)  # let go: the loser never touches the segment
    left.write()
    assert len(storage.items[next(iter(storage.items))].split("\n")) == 4


def leave_for_the_cache(page: Page) -> None:
    """Navigating away from a page the browser keeps in its back-forward cache."""
    page.window.fire("pagehide", persisted=True)
    page.document.visibilityState = "hidden"
    page.document.fire("visibilitychange")


def restore_from_the_cache(page: Page) -> None:
    """Going back to it: the same page, alive again."""
    page.document.visibilityState = "visible"
    page.window.fire("pageshow", persisted=True)
    page.document.fire("visibilitychange")


async def test_a_page_left_for_the_cache_declares_itself_gone_and_is_alive_again_on_restore(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    await settle()
    leases = [key for key in site.storage.data if ":lease:" in key]
    assert len(leases) == 1
    leave_for_the_cache(tab)  # a held lock (a lease here) keeps a page out of the cache
    assert [key for key in site.storage.data if ":lease:" in key] == []
    restore_from_the_cache(tab)
    await settle()
    assert [key for key in site.storage.data if ":lease:" in key] == leases
    client.destroy()


async def test_a_restored_page_sends_what_it_left_stored_when_no_other_tab_took_it(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    client = tab_client(tab, masivo)
    go_offline(tab)  # what it queues stays stored when it is left
    ids = [client.send_analytics_event(EVENT).event_id for _ in range(5)]
    await settle()
    leave_for_the_cache(tab)
    await masivo.clock.advance(LEASE_TTL_S + 1)
    restore_from_the_cache(tab)
    go_offline(tab, False)
    await masivo.clock.advance(5)  # sending resumes shortly after the network is back
    await client.flush()
    assert [event["event_id"] for batch in masivo.batches for event in batch] == ids
    assert stored(site) == {}
    client.destroy()


async def test_events_another_tab_took_while_a_page_was_cached_are_sent_once(
    site: Any, masivo: FakeMasivo
) -> None:
    tab = site()
    cached = tab_client(tab, masivo)
    go_offline(tab)
    deliveries = [cached.send_analytics_event(EVENT) for _ in range(5)]
    await settle()
    leave_for_the_cache(tab)
    other = tab_client(site(), masivo)  # a second tab of the site adopts what looks orphaned
    await masivo.clock.advance(1)
    await other.flush()
    ids = [delivery.event_id for delivery in deliveries]
    assert [event["event_id"] for batch in masivo.batches for event in batch] == ids
    restore_from_the_cache(tab)
    go_offline(tab, False)
    await masivo.clock.advance(5)
    for delivery in deliveries:  # told, not left waiting: another tab sends them
        result = await delivery
        assert not result.success and "another tab" in result.data["reason"]
    later = cached.send_analytics_event(EVENT)
    await cached.flush()
    sent = [event["event_id"] for batch in masivo.batches for event in batch]
    assert sent == [*ids, later.event_id]  # each once, and the restored page still sends
    assert stored(site) == {}
    cached.destroy()
    other.destroy()


class FakeLocks:
    """``navigator.locks`` that never grants: enough for a client to choose Web Locks."""

    def request(self, name: str, callback: Any) -> None:
        return None

    async def query(self) -> Any:
        return type("Snapshot", (), {"held": []})()


async def test_a_destroyed_client_leaves_no_listener_on_the_page(masivo: FakeMasivo) -> None:
    page = fake_page(FakeLocalStorage())
    page.navigator.locks = FakeLocks()  # type: ignore[attr-defined]
    client = tab_client(page, masivo)
    client.send_analytics_event(EVENT)
    listeners = page.document.listeners  # type: ignore[attr-defined]
    assert listeners["visibilitychange"]  # the page's hide, and the liveness's lease or lock
    client.destroy()
    assert listeners["visibilitychange"] == []
