"""The page-hide path under CPython, with a fake page: listeners, once-per-hide, and the
synchronous keepalive flush within the page budget. (Real Chromium: tests/browser.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from masivo_web import MasivoClient, MasivoNetworkError, create_client
from masivo_web.browser.current import current_page
from masivo_web.browser.lifecycle import PageLifecycle
from masivo_web.browser.page import Page
from masivo_web.engine.token_registry import TokenRegistry
from masivo_web.rules.http import Request, Response
from masivo_web.rules.keepalive import KEEPALIVE_BUDGET_BYTES
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
        self.bridge = Page(self.window, self.document, self.navigator, None, self.create_proxy)

    def create_proxy(self, function: Callable[[Any], None]) -> FakeProxy:
        self.proxies.append(FakeProxy(function))
        return self.proxies[-1]

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


def test_every_hide_signal_flushes_and_a_return_to_view_is_reported_once() -> None:
    calls: list[str] = []
    page = FakePage()
    lifecycle = PageLifecycle(lambda: calls.append("hide"), on_show=lambda: calls.append("show"))
    assert page.install(lifecycle)
    assert calls == []  # installed on a visible page
    page.leave()
    assert calls == ["hide", "hide"]  # pagehide, then visibilitychange: the flush is idempotent
    page.show()
    page.show()
    assert calls == ["hide", "hide", "show"]
    page.window.fire("pageshow")  # a visible page's pageshow changes nothing
    page.window.fire("pagehide")
    page.window.fire("pageshow")  # restored from the back/forward cache
    assert calls == ["hide", "hide", "show", "hide", "show"]


def test_installed_on_a_hidden_page_it_starts_hidden() -> None:
    calls: list[str] = []
    page = FakePage()
    page.document.visibilityState = "hidden"  # a background tab, or prerendering
    lifecycle = PageLifecycle(lambda: calls.append("hide"), on_show=lambda: calls.append("show"))
    page.install(lifecycle)
    page.show()
    assert calls == ["hide", "show"]


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


def client_on_page(masivo: FakeMasivo, **options: Any) -> tuple[MasivoClient, FakePage]:
    """A client created in a (fake) page: the page is one of create_client's parts."""
    page = FakePage()
    client = create_client(
        "k", transport=masivo.transport, clock=masivo.clock, page=page.bridge, **options
    )
    return client, page


async def test_hiding_starts_keepalive_requests_before_returning(masivo: FakeMasivo) -> None:
    client, page = client_on_page(masivo)
    await client.get_token()  # a token is cached, as after the first flush on a live page
    deliveries = [client.send_analytics_event(EVENT) for _ in range(3)]
    page.leave()
    (request,) = masivo.event_requests  # on the wire before any await
    assert request.keepalive
    assert len(json.loads(request.body or b"")["events"]) == 3
    await settle()
    assert all(delivery.done() for delivery in deliveries)
    assert page.bridge.keepalive_budget.in_flight == 0  # released once answered
    client.destroy()


async def test_a_hide_stays_within_the_keepalive_budget(masivo: FakeMasivo) -> None:
    client, page = client_on_page(masivo)
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
    client, page = client_on_page(masivo)
    delivery = client.send_analytics_event(EVENT)
    page.leave()
    assert masivo.transport.requests == []  # an authorize round trip cannot finish at unload
    await settle()
    assert (await delivery).success
    assert [len(batch) for batch in masivo.batches] == [1]
    client.destroy()


async def test_hiding_with_nothing_queued_sends_nothing(masivo: FakeMasivo) -> None:
    client, page = client_on_page(masivo)
    await client.get_token()
    page.leave()
    assert masivo.event_requests == []
    client.destroy()
    page.leave()  # destroyed: listeners are gone
    assert masivo.event_requests == []


async def test_a_batch_taken_but_not_yet_started_goes_out_at_hide(masivo: FakeMasivo) -> None:
    # The flusher takes a batch in one loop turn and its request starts in a later one (in a
    # page, each turn is its own browser task). A page hidden in between must still start it.
    client, page = client_on_page(masivo)
    await client.get_token()
    deliveries = [client.send_analytics_event(EVENT) for _ in range(2)]
    flushing = asyncio.ensure_future(client.flush())
    first = deliveries[0].event_id
    for _ in range(10):  # step the loop until the batch is taken, not yet on the wire
        await asyncio.sleep(0)
        if client.where(first) == "taken":
            break
    assert client.where(first) == "taken" and not masivo.event_requests
    page.leave()
    (request,) = masivo.event_requests  # started by the hide, before any await
    assert request.keepalive
    await flushing
    assert all(result.success for result in await asyncio.gather(*deliveries))
    assert len(masivo.event_requests) == 1  # the flusher used the request the hide started
    client.destroy()


async def test_a_batch_waiting_for_its_token_goes_out_at_hide_once_it_is_cached(
    masivo: FakeMasivo,
) -> None:
    # The token came back, but the task that asked for it has not resumed yet when the page is
    # hidden: the hide starts the request with the cached token, the task then awaits it.
    gate = masivo.authorize_delay = asyncio.Event()
    tokens = TokenRegistry()
    client, page = client_on_page(masivo, tokens=tokens)
    deliveries = [client.send_analytics_event(EVENT) for _ in range(2)]
    flushing = asyncio.ensure_future(client.flush())
    await settle()
    assert client.where(deliveries[0].event_id) == "taken" and not masivo.event_requests
    gate.set()
    (auth,) = tokens.managers()
    for _ in range(10):  # until the token is cached (the batch's task resumes later)
        await asyncio.sleep(0)
        if auth.cached_token is not None:
            break
    assert auth.cached_token is not None and not masivo.event_requests
    page.leave()
    (request,) = masivo.event_requests
    assert request.keepalive
    await flushing
    assert all(result.success for result in await asyncio.gather(*deliveries))
    assert len(masivo.event_requests) == 1
    client.destroy()


async def test_events_queued_while_hidden_go_out_at_once_and_at_pagehide(
    masivo: FakeMasivo,
) -> None:
    client, page = client_on_page(masivo)
    await client.get_token()
    page.hide()  # the user switched tabs; the page keeps tracking
    first = client.send_analytics_event(EVENT)
    await settle()  # no clock time passes: the hidden page did not wait for the idle timer
    assert [len(batch) for batch in masivo.batches] == [1]
    assert (await first).success
    second = client.send_analytics_event(EVENT)
    page.window.fire("pagehide")  # the hidden tab is closed before the loop turns
    (_, request) = masivo.event_requests
    assert request.keepalive
    assert (await second).success
    page.show()  # visible again: events wait for the usual triggers
    client.send_analytics_event(EVENT)
    await settle()
    assert len(masivo.batches) == 2
    client.destroy()


async def test_a_pages_regular_sends_ask_for_keepalive_within_its_budget(
    masivo: FakeMasivo,
) -> None:
    # The README's promise: in a page every batch asks for keepalive, so a batch on the wire
    # survives the user navigating away; a body the budget has no room for goes without.
    client, page = client_on_page(masivo)
    small = client.send_analytics_event(EVENT)
    await client.flush()
    assert (await small).success
    (request,) = masivo.event_requests
    assert request.keepalive
    assert page.bridge.keepalive_budget.in_flight == 0  # given back once answered
    budget = page.bridge.keepalive_budget
    assert budget.reserve(budget.available() - 100)  # the page's other requests hold the rest
    large = client.send_analytics_event(EVENT, metadata={"pad": "x" * 1000})
    await client.flush()
    assert (await large).success
    assert not masivo.event_requests[-1].keepalive  # no room left for its body
    client.destroy()


async def test_without_a_page_no_request_asks_for_keepalive(masivo: FakeMasivo) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock, page=None)
    await client.send_analytics_event(EVENT)
    assert not masivo.event_requests[-1].keepalive
    client.destroy()


def refused_keepalive(*, timed_out: bool = False) -> Callable[[Request], Response]:
    """What a browser does with a keepalive request over the page's 64 KiB: refuses it at once
    (``timed_out``: instead, no answer came in time, so it may have arrived)."""

    def answer(request: Request) -> Response:
        assert request.keepalive
        error = MasivoNetworkError("The browser could not reach it (TypeError: Failed to fetch).")
        error.timed_out = timed_out
        raise error

    return answer


async def test_a_refused_keepalive_on_a_visible_page_goes_again_at_once_without_it(
    masivo: FakeMasivo,
) -> None:
    client, _ = client_on_page(masivo)
    await client.get_token()
    masivo.script("events", refused_keepalive())
    delivery = client.send_analytics_event(EVENT)
    flushing = asyncio.ensure_future(client.flush())
    await settle()  # no time passes: no backoff is waited for
    assert delivery.done() and (await delivery).success
    await flushing
    assert [request.keepalive for request in masivo.event_requests] == [True, False]
    assert [len(batch) for batch in masivo.batches] == [1]
    client.destroy()


@pytest.mark.parametrize("condition", ["hidden page", "timed out"])
async def test_otherwise_a_failed_keepalive_waits_for_its_backoff(
    condition: str, masivo: FakeMasivo
) -> None:
    # Hidden, the page may be going: a plain request would die with it (kept stored, the
    # events go again with keepalive after the backoff). Timed out, it may have arrived.
    client, page = client_on_page(masivo)
    await client.get_token()
    masivo.script("events", refused_keepalive(timed_out=condition == "timed out"))
    if condition == "hidden page":
        page.hide()
    delivery = client.send_analytics_event(EVENT)
    flushing = asyncio.ensure_future(client.flush())
    await settle()
    assert len(masivo.event_requests) == 1 and not delivery.done()
    await masivo.clock.advance(5)  # the backoff (0.5-1 s) passes
    await flushing
    assert (await delivery).success
    assert [request.keepalive for request in masivo.event_requests] == [True, True]
    client.destroy()
