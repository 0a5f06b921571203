"""Nothing lost, nothing doubled, in real Chromium: localStorage write-ahead, adoption of a
closed tab's events (Web Locks), and offline pauses."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import STORED_EVENTS, client_code, open_harness, run_python

EVENT = "dict(type='ADD_TO_CART', customer_id='c-1', brand_id=None)"


def open_tab(context: BrowserContext, pages_server: StaticServer) -> Page:
    return open_harness(context, pages_server, "harness.html")


#: A client whose policy says the service stores an event_id once (every event stays stored
#: until answered), its timers off.
DEDUPLICATING_CLIENT = (
    "from masivo_web import DeliveryPolicy, create_client\n"
    "masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
    "api_base={emulator.api_base!r}, idle_flush_s=3600.0, max_wait_s=3600.0, "
    "policy=DeliveryPolicy(service_deduplicates=True))\n"
)

KEYS_STORED = "Object.keys(localStorage).filter(k => k.includes(':ev:')).length"


def queue_events(page: Page, emulator: EmulatorServer, count: int) -> list[str]:
    run_python(page, client_code(emulator, idle_flush_s=3600.0, max_wait_s=3600.0))
    ids: list[str] = run_python(
        page, f"[masivo.send_analytics_event(**{EVENT}).event_id for _ in range({count})]"
    )
    return ids


def test_a_tab_closed_offline_delivers_its_events_when_the_site_is_opened_again(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    context = own_page.context
    run_python(own_page, client_code(emulator) + "await masivo.get_token()")
    context.set_offline(True)
    ids = run_python(
        own_page, f"[masivo.send_analytics_event(**{EVENT}).event_id for _ in range(4)]"
    )
    # Written on the loop's next turn, before any send: one segment key, one line per event.
    own_page.wait_for_function(f"{STORED_EVENTS} === 4")
    assert own_page.evaluate(KEYS_STORED) == 1
    own_page.close()  # offline: the page-hide flush cannot send; the events stay stored
    assert emulator.control.received_events() == []
    context.set_offline(False)

    reopened = open_tab(context, pages_server)
    run_python(reopened, client_code(emulator))  # creating the client adopts the orphans
    events = emulator.control.wait_for_events(4)
    assert sorted(event["event_id"] for event in events) == sorted(ids)
    reopened.wait_for_function(f"{KEYS_STORED} === 0")


def test_a_healthy_tabs_unload_request_is_not_sent_again_by_the_next_page(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    """Masivo documents no de-duplication (the emulator stores every copy): what the page hands
    to its keepalive request while the service answers normally leaves storage in the handler,
    so the next page does not send it again, even when that request's answer is lost."""
    emulator = fresh_masivo_emulator
    context = own_page.context
    ids = queue_events(own_page, emulator, 3)
    run_python(own_page, "await masivo.get_token()")
    own_page.wait_for_function(f"{STORED_EVENTS} === 3")
    # Stored at once, answered after the page is gone (a dropped connection could make
    # Chromium itself send the request again).
    emulator.control.inject_fault("analytics", delay_s=2.0, after_processing=True)
    own_page.close()
    first = emulator.control.wait_for_events(3)
    assert sorted(event["event_id"] for event in first) == sorted(ids)

    reopened = open_tab(context, pages_server)
    assert reopened.evaluate(KEYS_STORED) == 0  # forgotten by the page that left
    run_python(reopened, client_code(emulator) + "await masivo.flush()")
    reopened.wait_for_timeout(500)
    assert len(emulator.control.received_events()) == 3  # stored once, sent once
    assert len(emulator.control.requests(route="analytics")) == 1


def test_with_a_deduplicating_service_a_lost_unload_request_is_sent_again_and_stored_once(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.update_settings(dedupe=True)
    context = own_page.context
    run_python(own_page, DEDUPLICATING_CLIENT.format(emulator=emulator))
    ids = run_python(
        own_page, f"[masivo.send_analytics_event(**{EVENT}).event_id for _ in range(3)]"
    )
    run_python(own_page, "await masivo.get_token()")
    # The keepalive request at close reaches the server, is stored, but its answer is lost.
    emulator.control.inject_fault("analytics", drop=True, after_processing=True)
    own_page.close()
    first = emulator.control.wait_for_events(3)
    assert sorted(event["event_id"] for event in first) == sorted(ids)

    reopened = open_tab(context, pages_server)
    run_python(reopened, client_code(emulator))
    reopened.wait_for_function(f"{KEYS_STORED} === 0")
    assert len(emulator.control.received_events()) == 3  # stored once
    posts = [(r["route"], r["status"]) for r in emulator.control.requests() if r["route"]]
    # The new page authorized and sent the adopted events again; the server recognised them.
    # (Chromium itself may also resend a request whose reused connection died unanswered.)
    assert posts[-2:] == [("authorize", 200), ("analytics", 200)]
    assert emulator.control.stats()["duplicates_suppressed"] >= 3


def test_a_live_tabs_events_are_never_sent_by_another_tab_only_adopted_once_it_closes(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    context = own_page.context
    # Kept stored until answered even when handed to the closing tab's keepalive request (the
    # policy for a service that de-duplicates): that request is lost below, and the open tab
    # must adopt the events. (By default a healthy page's handed-off events are not kept: see
    # test_a_healthy_tabs_unload_request_is_not_sent_again_by_the_next_page.)
    run_python(own_page, DEDUPLICATING_CLIENT.format(emulator=emulator))
    ids = run_python(
        own_page, f"[masivo.send_analytics_event(**{EVENT}).event_id for _ in range(5)]"
    )
    run_python(own_page, "await masivo.get_token()")

    other = open_tab(context, pages_server)
    run_python(other, client_code(emulator, "other"))
    run_python(other, "import asyncio\nawait asyncio.sleep(6)\nawait other.flush()")  # > 1 scan
    assert emulator.control.received_events() == []  # the first tab is alive: hands off

    emulator.control.inject_fault("analytics", drop=True)  # the closing tab's send is lost
    own_page.close()
    events = emulator.control.wait_for_events(5, timeout=20)  # adopted by the open tab
    assert sorted(event["event_id"] for event in events) == sorted(ids)
    assert emulator.control.stats()["duplicates_suppressed"] == 0
    run_python(other, "other.destroy()")
