"""The SDK in a page under MicroPython: page hide, hidden tab, storage, adoption, offline,
context. The page is run_checks.mjs's JS fake, so every call crosses the real JS bridge."""

import asyncio
import json
import time

import fakebrowser
from support import Masivo, cart, client, page, until

from masivo_web.runtime.clock import SystemClock


class TabClock(SystemClock):
    """The real clock, ``ahead_s`` ahead; once ``closed`` its sleeps never end (a closed tab
    runs nothing more)."""

    def __init__(self, ahead_s=0.0):
        self.ahead_s = ahead_s
        self.closed = False

    def monotonic(self):
        return SystemClock.monotonic(self) + self.ahead_s

    def time(self):
        return SystemClock.time(self) + self.ahead_s

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)
        if self.closed:
            await asyncio.Event().wait()


def stored_ids(local):
    """Event ids in the fake localStorage's segments."""
    found = []
    for index in range(local.length):
        key = local.key(index)
        if ":ev:" in key:
            for line in str(local.getItem(key)).split("\n")[1:]:
                found.append(json.loads(line.split("|", 2)[2])["event_id"])
    return found


async def check_page_hide_starts_a_keepalive_request_within_the_handler():
    masivo = Masivo()
    the_page = page(local=fakebrowser.storage())
    masivo_client = client(masivo, page=the_page, idle_flush_s=30)
    await masivo_client.send_analytics_event(cart())  # authorized: the token is at hand
    ids = [masivo_client.send_analytics_event(cart(n=i)).event_id for i in range(5)]
    before = len(masivo.transport.requests)
    the_page.window.dispatch("pagehide")  # synchronous, like the browser's
    started = masivo.transport.requests[before:]
    assert len(started) == 1 and started[0].keepalive, started
    assert [event["event_id"] for event in json.loads(started[0].body)["events"]] == ids
    await until(lambda: len(masivo.stored) == 6, what="the keepalive batch")
    masivo_client.destroy()


async def check_a_hidden_tab_flushes_and_shown_again_goes_on():
    masivo = Masivo()
    the_page = page(local=fakebrowser.storage())
    masivo_client = client(masivo, page=the_page, idle_flush_s=30)
    await masivo_client.send_analytics_event(cart())
    masivo_client.send_analytics_event(cart())
    the_page.document.visibilityState = "hidden"
    the_page.document.dispatch("visibilitychange")
    assert masivo.transport.requests[-1].keepalive
    await until(lambda: len(masivo.stored) == 2, what="the hidden-tab flush")
    the_page.document.visibilityState = "visible"
    the_page.document.dispatch("visibilitychange")
    assert (await masivo_client.send_analytics_event(cart())).success
    masivo_client.destroy()


async def check_events_are_stored_before_sending_and_removed_once_acknowledged():
    masivo = Masivo()
    local = fakebrowser.storage()
    masivo_client = client(masivo, page=page(local=local), idle_flush_s=30)
    ids = [masivo_client.send_analytics_event(cart(n=i)).event_id for i in range(20)]
    await asyncio.sleep(0.01)  # the write happens on the next turn
    assert sorted(stored_ids(local)) == sorted(ids)
    await masivo_client.flush()
    await until(lambda: stored_ids(local) == [], what="acknowledged events to be removed")
    for index in range(local.length):  # neither the key nor a token is ever written
        value = str(local.getItem(local.key(index)))
        assert "client-key-1" not in value and "eyJ" not in value, value
    masivo_client.destroy()


async def check_a_closed_tabs_events_are_sent_by_the_next_page_in_order_once():
    masivo = Masivo()
    local = fakebrowser.storage()
    clock = TabClock()
    closed = client(masivo, page=page(local=local), clock=clock, idle_flush_s=30)
    ids = [closed.send_analytics_event(cart(n=i)).event_id for i in range(30)]
    await asyncio.sleep(0.01)
    clock.closed = True  # the tab is gone: its lease is not renewed, nothing was sent
    assert masivo.stored == {}
    later = client(masivo, page=page(local=local), clock=TabClock(ahead_s=20))
    await until(lambda: len(masivo.stored) == 30, what="the adopted events")
    assert masivo.order == ids and sorted(masivo.stored.values()) == [1] * 30
    await until(lambda: stored_ids(local) == [], what="the adopted events to be removed")
    later.destroy()


async def check_offline_pauses_sending_and_online_resumes_it():
    masivo = Masivo()
    the_page = page(local=fakebrowser.storage())
    masivo_client = client(masivo, page=the_page)
    await masivo_client.send_analytics_event(cart())
    the_page.navigator.onLine = False
    the_page.window.dispatch("offline")
    masivo_client.send_analytics_event(cart())
    await asyncio.sleep(0.1)
    assert len(masivo.stored) == 1
    the_page.navigator.onLine = True
    the_page.window.dispatch("online")
    await until(lambda: len(masivo.stored) == 2, what="sending after online")
    masivo_client.destroy()


async def check_context_has_the_page_and_its_campaign():
    masivo = Masivo()
    href = "https://shop.test/cart?utm_source=news%20letter&utm_medium=email&utm_campaign=x+y"
    masivo_client = client(masivo, page=page(href=href, local=fakebrowser.storage()))
    await masivo_client.send_analytics_event(cart())
    (event,) = masivo.events()
    context = event["context"]
    assert context["page"]["url"] == href and context["page"]["path"] == "/cart"
    assert context["campaign"] == {"source": "news letter", "medium": "email", "name": "x y"}
    assert context["user_agent"] == "FakeBrowser/1.0" and context["locale"] == "es-MX"
    assert context["library"]["name"] == "masivo_web"
    masivo_client.destroy()


async def check_a_full_storage_falls_back_to_memory_and_the_interpreter_survives_the_throws():
    # Each failed setItem throws in JS; unguarded, MicroPython would skip except/finally and
    # run out of stack after ~70 of them. 300 writes through the SDK's guard here.
    masivo = Masivo()
    full = fakebrowser.fullStorage()
    masivo_client = client(masivo, page=page(local=full), idle_flush_s=30)
    for round_ in range(100):
        masivo_client.send_analytics_event(cart(n=round_))
        await asyncio.sleep(0)
    from masivo_web.runtime.jsbridge import JsCallError, js_call

    for _ in range(200):
        try:
            js_call(full, "setItem", "k", "v")
        except JsCallError as error:
            assert "quota" in str(error)
        else:
            raise AssertionError("the write did not fail")
    await masivo_client.flush()
    assert len(masivo.stored) == 100
    masivo_client.destroy()


async def check_storage_that_throws_on_access_is_none_and_the_interpreter_lives_on():
    import js

    from masivo_web.runtime.jsbridge import JsCallError, js_call

    locked = fakebrowser.lockedWindow()
    for _ in range(200):  # unguarded, ~70 such throws exhaust MicroPython
        try:
            js_call(js.Reflect, "get", locked, "localStorage")
        except JsCallError as error:
            assert "sandboxed" in str(error)
        else:
            raise AssertionError("the getter did not throw")


async def check_disabled_storage_on_the_page_keeps_events_in_memory():
    masivo = Masivo()
    masivo_client = client(masivo, page=page(local=None))
    assert (await masivo_client.send_analytics_event(cart())).success
    masivo_client.destroy()


async def check_a_later_page_of_the_tab_sends_at_once_with_the_kept_token():
    masivo = Masivo()
    local, session = fakebrowser.storage(), fakebrowser.storage()
    first = client(masivo, page=page(local=local, session=session))
    await first.send_analytics_event(cart())
    first.destroy()
    later_page = page(local=local, session=session)
    later = client(masivo, page=later_page, idle_flush_s=30)
    later.send_analytics_event(cart())
    later_page.window.dispatch("pagehide")  # at once: no authorize needed first
    assert masivo.authorized == 1 and masivo.transport.requests[-1].keepalive
    await until(lambda: len(masivo.stored) == 2, what="the later page's event")
    later.destroy()


async def check_time_is_read_from_the_real_clocks():
    clock = SystemClock()
    first = clock.monotonic()
    await asyncio.sleep(0.05)
    assert 0.04 <= clock.monotonic() - first < 1.0
    assert abs(clock.time() - time.time()) < 1


async def check_a_worker_is_said_once_not_taken_for_a_server():
    import logging

    import masivo_web.factory
    import masivo_web.parts

    said = []

    class Capture(logging.Handler):
        def emit(self, record):
            said.append(self.format(record))

    capture = Capture()
    capture.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("masivo_web").addHandler(capture)
    masivo_web.parts._worker_warned = False  # this interpreter may have said it already
    fakebrowser.pretendWorker(True)
    try:
        for _ in range(2):
            client(Masivo(), page=masivo_web.factory.DETECT).destroy()
    finally:
        fakebrowser.pretendWorker(False)
        logging.getLogger("masivo_web").handlers.remove(capture)  # MicroPython: no removeHandler
    worker_lines = [line for line in said if "Web Worker" in line]
    assert len(worker_lines) == 1, said
    assert "lost" in worker_lines[0] and "main thread" in worker_lines[0]
    client(Masivo(), page=masivo_web.factory.DETECT).destroy()  # not a worker: nothing said
    assert len([line for line in said if "Web Worker" in line]) == 1
