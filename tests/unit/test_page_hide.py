"""The page-hide path under CPython, with a fake page: listeners, once-per-hide, and the
synchronous keepalive flush within the page budget. (Real Chromium: tests/browser.)"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from masivo_web import create_client
from masivo_web.keepalive import KEEPALIVE_BUDGET_BYTES, page_budget
from masivo_web.lifecycle import PageLifecycle
from masivo_web.runtime import Page, current_page
from tests.fakes import FakeMasivo, FakeNavigator, FakeTarget, settle

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}


class FakeProxy:
    def __init__(self, function: Callable[[Any], None]) -> None:
        self.function = function
        self.destroyed = False

    def __call__(self, event: Any) -> None:
        self.function(event)

    def destroy(self) -> None:
        self.destroyed = True


class FakePage:
    def __init__(self) -> None:
        self.window = FakeTarget()
        self.document = FakeTarget()
        self.navigator = FakeNavigator()
        self.proxies: list[FakeProxy] = []

    def create_proxy(self, function: Callable[[Any], None]) -> FakeProxy:
        self.proxies.append(FakeProxy(function))
        return self.proxies[-1]

    @property
    def bridge(self) -> Page:
        return Page(self.window, self.document, self.navigator, None, self.create_proxy)

    def install(self, lifecycle: PageLifecycle) -> bool:
        return lifecycle.install(self.bridge)

    def connectivity(self, online: bool) -> None:
        self.navigator.onLine = online
        self.window.fire("online" if online else "offline")

    def hide(self) -> None:
        self.document.visibilityState = "hidden"
        self.document.fire("visibilitychange")

    def show(self) -> None:
        self.document.visibilityState = "visible"
        self.document.fire("visibilitychange")

    def leave(self) -> None:
        """What navigating away fires: pagehide, then visibilitychange to hidden."""
        self.window.fire("pagehide")
        self.hide()


def test_under_cpython_nothing_is_registered() -> None:
    calls: list[int] = []
    lifecycle = PageLifecycle(lambda: calls.append(1))
    assert current_page() is None
    assert lifecycle.install(current_page()) is False
    assert not lifecycle.installed
    lifecycle.remove()  # harmless
    assert calls == []


def test_one_flush_per_hide_rearmed_when_visible() -> None:
    calls: list[int] = []
    page = FakePage()
    lifecycle = PageLifecycle(lambda: calls.append(1))
    assert page.install(lifecycle)
    page.leave()
    assert calls == [1]  # pagehide and visibilitychange of one departure: one flush
    page.hide()
    assert calls == [1]
    page.show()
    page.hide()
    assert calls == [1, 1]
    page.window.fire("pageshow")  # restored from the back/forward cache
    page.window.fire("pagehide")
    assert calls == [1, 1, 1]


def test_remove_unregisters_and_frees_the_proxies() -> None:
    page = FakePage()
    lifecycle = PageLifecycle(lambda: None)
    page.install(lifecycle)
    assert sorted(page.window.listeners) == ["offline", "online", "pagehide", "pageshow"]
    assert list(page.document.listeners) == ["visibilitychange"]
    lifecycle.remove()
    assert all(not listeners for listeners in page.window.listeners.values())
    assert all(not listeners for listeners in page.document.listeners.values())
    assert all(proxy.destroyed for proxy in page.proxies)


def test_a_failing_flush_never_throws_into_the_page(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    page = FakePage()
    page.install(PageLifecycle(broken))
    page.leave()
    assert "flushing on page hide failed" in caplog.text


def attach(client: Any) -> FakePage:
    page = FakePage()
    page.install(client._lifecycle)
    return page


async def test_hiding_starts_keepalive_requests_before_returning(masivo: FakeMasivo) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    page = attach(client)
    await client.get_token()  # a token is cached, as after the first flush on a live page
    deliveries = [client.send_analytics_event(EVENT) for _ in range(3)]
    page.leave()
    (request,) = masivo.event_requests  # on the wire before any await
    assert request.keepalive
    assert len(json.loads(request.body or b"")["events"]) == 3
    await settle()
    assert all(delivery.done() for delivery in deliveries)
    assert page_budget.in_flight == 0  # released once answered
    client.destroy()


async def test_a_hide_stays_within_the_keepalive_budget(masivo: FakeMasivo) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    page = attach(client)
    await client.get_token()
    deliveries = [
        client.send_analytics_event(EVENT, metadata={"pad": "x" * 2000}) for _ in range(60)
    ]
    page.leave()
    started = masivo.event_requests
    assert all(request.keepalive for request in started)
    assert sum(len(request.body or b"") for request in started) <= KEEPALIVE_BUDGET_BYTES
    assert 0 < sum(len(json.loads(r.body or b"")["events"]) for r in started) < 60
    await client.flush()  # the page stayed alive: the flusher sends the rest
    assert all(result.success for result in await asyncio.gather(*deliveries))
    assert len(sent := [e for b in masivo.batches for e in b]) == 60
    assert len({event["event_id"] for event in sent}) == 60
    client.destroy()


async def test_without_a_cached_token_the_normal_flush_takes_over(masivo: FakeMasivo) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    page = attach(client)
    delivery = client.send_analytics_event(EVENT)
    page.leave()
    assert masivo.transport.requests == []  # an authorize round trip cannot finish at unload
    await settle()
    assert (await delivery).success
    assert [len(batch) for batch in masivo.batches] == [1]
    client.destroy()


async def test_hiding_with_nothing_queued_sends_nothing(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    page = attach(client)
    await client.get_token()
    with caplog.at_level(logging.DEBUG):
        page.leave()
    assert masivo.event_requests == []
    client.destroy()
    page.leave()  # destroyed: listeners are gone
    assert masivo.event_requests == []
