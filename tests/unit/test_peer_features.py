"""What the peer SDKs offer: identity, page views, context, hooks, consent, close, debug,
several clients. Page-reading parts run on a fake page here and in Chromium in tests/browser."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from masivo_web import MasivoConfigError, MasivoValidationError, create_client
from masivo_web.browser.context import LIBRARY
from masivo_web.browser.page import Page
from tests.fakes import FakeLocalStorage, FakeMasivo, fake_page, json_response

EVENT: dict[str, Any] = {"type": "ADD_TO_CART", "brand_id": None}


@pytest.fixture
def page_loads() -> Callable[[], Page]:
    """Each call is a new page load of one site (its localStorage survives)."""
    storage = FakeLocalStorage()

    def load() -> Page:
        return fake_page(storage)

    return load


def client_for(masivo: FakeMasivo, page: Page | None = None, **options: Any) -> Any:
    return create_client("k", transport=masivo.transport, clock=masivo.clock, page=page, **options)


def sent(masivo: FakeMasivo) -> list[dict[str, Any]]:
    return [event for batch in masivo.batches for event in batch]


async def test_anonymous_events_then_identify_then_known_events(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    tab = page_loads()
    client = client_for(masivo, tab)
    anonymous = client.anonymous_id
    client.send_analytics_event(EVENT)  # no customer_id: the visitor is anonymous
    client.identify("customer-123", {"plan": "gold"})
    client.send_analytics_event(EVENT)  # customer_id may now be left out
    await client.flush()
    before, identify, after = sent(masivo)
    assert (before["customer_id"], before["anonymous_id"]) == (anonymous, anonymous)
    assert identify["type"] == "IDENTIFY"
    assert (identify["customer_id"], identify["anonymous_id"]) == ("customer-123", anonymous)
    assert identify["traits"] == {"plan": "gold"}
    assert (after["customer_id"], after["anonymous_id"]) == ("customer-123", anonymous)
    client.destroy()


async def test_identity_survives_a_page_load_and_reset_forgets_it(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    tab = page_loads()
    first = client_for(masivo, tab)
    first.identify("customer-9")
    anonymous = first.anonymous_id
    first.destroy()
    tab = page_loads()
    second = client_for(masivo, tab)
    assert (second.anonymous_id, second.customer_id) == (anonymous, "customer-9")
    second.reset()
    assert second.customer_id is None
    assert second.anonymous_id != anonymous
    tab = page_loads()
    third = client_for(masivo, tab)
    assert third.anonymous_id == second.anonymous_id
    for client in (second, third):
        client.destroy()


async def test_identify_refuses_a_missing_customer(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    with pytest.raises(MasivoValidationError, match="non-empty string"):
        client.identify("")
    assert client.customer_id is None
    client.destroy()


async def test_events_carry_context_read_at_call_time(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    page = tab = page_loads()
    client = client_for(masivo, tab)
    client.send_analytics_event(EVENT)
    page.window.location.href = "https://shop.test/checkout"  # type: ignore[attr-defined]
    client.send_analytics_event(EVENT)
    await client.flush()
    first, second = (event["context"] for event in sent(masivo))
    assert first["library"] == LIBRARY
    assert (first["user_agent"], first["locale"], first["timezone"]) == (
        "FakeBrowser/1.0",
        "es-ES",
        "Europe/Madrid",
    )
    assert first["page"]["url"].startswith("https://shop.test/cart")
    assert first["page"]["referrer"] == "https://search.test/?q=coffee"
    assert first["campaign"] == {"source": "newsletter", "name": "winter"}
    assert (first["page"]["path"], second["page"]["path"]) == ("/cart", "/checkout")
    client.destroy()


async def test_context_can_be_turned_off_and_is_minimal_under_cpython(
    masivo: FakeMasivo,
) -> None:
    plain = client_for(masivo, context=False)
    cpython = client_for(masivo)
    plain.send_analytics_event(EVENT)
    cpython.send_analytics_event(EVENT)
    await plain.flush()
    await cpython.flush()
    without, with_context = sent(masivo)
    assert "context" not in without
    assert with_context["context"]["library"] == LIBRARY
    assert "page" not in with_context["context"]
    plain.destroy()
    cpython.destroy()


async def test_page_views_read_the_page_or_need_a_url_under_cpython(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    cpython = client_for(masivo)
    with pytest.raises(MasivoValidationError, match="url="):
        cpython.page("Home")
    cpython.page("Home", {"a": 1}, url="https://shop.test/", path="/")
    tab = page_loads()
    in_page = client_for(masivo, tab, page_event_type="VIEW")
    in_page.page("Cart")
    await cpython.flush()
    await in_page.flush()
    explicit, read = sent(masivo)
    assert (explicit["type"], explicit["name"], explicit["url"], explicit["properties"]) == (
        "PAGE_VIEW",
        "Home",
        "https://shop.test/",
        {"a": 1},
    )
    assert (read["type"], read["path"], read["title"]) == ("VIEW", "/cart", "Shop")
    assert read["search"] == "?utm_source=newsletter&utm_campaign=winter"
    cpython.destroy()
    in_page.destroy()


async def test_before_send_can_change_or_drop_events(masivo: FakeMasivo) -> None:
    def scrub(event: dict[str, Any]) -> dict[str, Any] | None:
        if event["type"] == "SECRET":
            return None
        return {**event, "metadata": {"scrubbed": True}}

    client = client_for(masivo, before_send=scrub)
    kept = client.send_analytics_event(EVENT)
    dropped = client.send_analytics_event(type="SECRET", brand_id=None)
    await client.flush()
    assert (await kept).success
    result = await dropped
    assert (result.success, result.data) == (False, {"reason": "dropped by before_send"})
    assert [event["metadata"] for event in sent(masivo)] == [{"scrubbed": True}]
    client.destroy()


async def test_before_send_results_are_validated(masivo: FakeMasivo) -> None:
    client = client_for(masivo, before_send=lambda event: {**event, "type": "PURCHASE"})
    with pytest.raises(MasivoValidationError, match="reserved"):
        client.send_analytics_event(EVENT)
    bad = client_for(masivo, before_send=lambda event: "nope")  # type: ignore[arg-type,return-value]
    with pytest.raises(MasivoValidationError, match="before_send"):
        bad.send_analytics_event(EVENT)
    client.destroy()
    bad.destroy()


async def test_a_disabled_client_records_and_sends_nothing(masivo: FakeMasivo) -> None:
    client = client_for(masivo, enabled=False)
    delivery = client.send_analytics_event(EVENT, metadata={"n": 1})
    await client.flush()
    assert (await delivery).data == {"reason": "client disabled"}
    assert [event["metadata"] for event in client.recorded_events] == [{"n": 1}]
    assert masivo.transport.requests == []
    with pytest.raises(MasivoValidationError):
        client.send_analytics_event(type="PURCHASE", brand_id=None)  # still validated
    client.destroy()


async def test_opt_out_drops_the_queue_and_is_remembered_until_opt_in(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    tab = page_loads()
    client = client_for(masivo, tab)
    queued = client.send_analytics_event(EVENT)
    client.opt_out()
    assert (await queued).data == {"reason": "opted out"}
    client.destroy()
    tab = page_loads()
    later = client_for(masivo, tab)
    assert later.opted_out
    assert (await later.send_analytics_event(EVENT)).data == {"reason": "opted out"}
    later.opt_in()
    delivery = later.send_analytics_event(EVENT)
    await later.flush()
    assert (await delivery).success
    assert len(sent(masivo)) == 1
    later.destroy()


async def test_close_flushes_within_its_timeout(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    delivery = client.send_analytics_event(EVENT)
    assert await client.close(timeout_s=5) == True  # noqa: E712  # a CloseResult
    assert (await delivery).success
    masivo.script("events", *[json_response(503, {"error": "down"})] * 20)
    slow = client_for(masivo)
    stuck = slow.send_analytics_event(EVENT)
    closing = masivo.clock.advance(30)
    result = slow.close(timeout_s=2)
    _, closed = await asyncio.gather(closing, result)
    assert closed == False and closed.unsent == 1  # noqa: E712  # a CloseResult
    assert stuck.done()  # destroyed: its awaitable raises rather than hanging
    with pytest.raises(MasivoConfigError):
        slow.send_analytics_event(EVENT)


async def test_debug_logs_each_step_of_its_own_client_only(
    masivo: FakeMasivo, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("masivo_web")
    debug_logger = logging.getLogger("masivo_web.debug")
    saved = [(log, log.level, list(log.handlers)) for log in (logger, debug_logger)]
    try:
        # An app's usual setting (WARNING), which only debug=True can lower: caplog's handler
        # (on the root logger) takes every level, and nothing here lowers the loggers'.
        logger.setLevel(logging.WARNING)
        debug_logger.setLevel(logging.NOTSET)
        caplog.handler.setLevel(logging.DEBUG)
        quiet = create_client("quiet-key", transport=masivo.transport, clock=masivo.clock)
        client = client_for(masivo, debug=True)
        assert logger.level == logging.WARNING  # the other clients' lines stay off
        client.send_analytics_event(EVENT)
        await client.flush()
        for step in ("queued ADD_TO_CART", "authorizing", "token received", "sending 1 event"):
            assert step in caplog.text, step
        assert "answered HTTP 200" in caplog.text
        assert not any(r.levelno > logging.DEBUG for r in caplog.records)  # never red
        assert masivo.tokens_issued[0] not in caplog.text  # a token never reaches a log
        # caplog's handler is on the root logger: debug=True added no second printer.
        assert logger.handlers == saved[0][2] and debug_logger.handlers == saved[1][2]
        caplog.clear()
        quiet.send_analytics_event(EVENT)  # a client without debug: not a line
        await quiet.flush()
        assert caplog.records == []
        client.destroy()
        quiet.destroy()
    finally:
        for log, level, handlers in saved:
            log.setLevel(level)
            log.handlers[:] = handlers


@pytest.mark.parametrize("value", ["x", 1, None])
def test_debug_is_true_or_false(value: object) -> None:
    with pytest.raises(MasivoConfigError, match="debug must be True or False"):
        create_client("k", debug=value)  # type: ignore[arg-type]


async def test_clients_with_different_keys_or_settings_stay_independent(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    tab = page_loads()
    shop = client_for(masivo, tab)
    other_brand = create_client("other", transport=masivo.transport, clock=masivo.clock, page=tab)
    shop.send_analytics_event(EVENT)
    other_brand.send_analytics_event(EVENT)
    await other_brand.flush()
    assert len(sent(masivo)) == 1  # its own queue: the shop's event waits for the shop's timers
    # ...but one visitor: consent and identity belong to the site, not to a key.
    assert shop.anonymous_id == other_brand.anonymous_id
    shop.opt_out()
    assert other_brand.opted_out
    assert (await other_brand.send_analytics_event(EVENT)).success is False
    await shop.flush()
    assert len(sent(masivo)) == 1  # the shop's queued event was dropped at opt-out
    same_key = client_for(masivo, tab)
    assert await same_key.get_token() == await shop.get_token()  # one token per key
    for client in (shop, other_brand, same_key):
        client.destroy()


async def test_inline_user_traits_ride_along(masivo: FakeMasivo) -> None:
    client = client_for(masivo)
    client.send_analytics_event(EVENT, user={"email": "sam@example.com", "data": {"plan": "pro"}})
    await client.flush()
    assert sent(masivo)[0]["user"] == {"email": "sam@example.com", "data": {"plan": "pro"}}
    client.destroy()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("context", "yes"),
        ("enabled", 1),
        ("page_event_type", ""),
        ("identify_event_type", None),
        ("on_error", "log"),
        ("before_send", 42),
    ],
)
def test_bad_peer_options_are_config_errors(option: str, value: Any) -> None:
    with pytest.raises(MasivoConfigError, match=option):
        create_client("k", **{option: value})


@pytest.mark.parametrize(
    ("url", "path", "query"),
    [
        ("https://shop.test/cart?x=1&utm_source=mail#top", "/cart", "x=1&utm_source=mail"),
        ("https://shop.test", "/", ""),
        ("https://shop.test?q=1", "/", "q=1"),
        ("http://localhost:8000/a/b/#frag?no", "/a/b/", ""),
        ("https://user@shop.test:8443/p;params?", "/p;params", ""),
    ],
)
def test_page_urls_are_split_like_urllib(url: str, path: str, query: str) -> None:
    from urllib.parse import urlsplit

    from masivo_web.browser.context import split_url

    assert split_url(url) == (path, query)
    parts = urlsplit(url)
    assert (parts.path or "/", parts.query) == (path, query)


class FakeMutationObserver:
    def __init__(self, handler: Callable[..., None]) -> None:
        self.handler = handler
        self.observing: tuple[Any, Any] | None = None

    @classmethod
    def new(cls, handler: Callable[..., None]) -> FakeMutationObserver:
        cls.made = cls(handler)
        return cls.made

    def observe(self, target: Any, options: Any) -> None:
        self.observing = (target, options)

    def disconnect(self) -> None:
        self.observing = None


async def test_where_the_page_says_when_it_changes_it_is_not_read_per_event(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    from tests.fakes import FakeTarget

    page = tab = page_loads()
    window: Any = page.window
    window.navigation = FakeTarget()
    window.MutationObserver = FakeMutationObserver
    window.Object = type("Object", (), {"new": staticmethod(lambda: type("O", (), {})())})
    document: Any = page.document
    document.head = object()
    client = client_for(masivo, tab)
    observer = FakeMutationObserver.made
    assert observer.observing is not None
    assert observer.observing[0] is document.head
    assert observer.observing[1].subtree and observer.observing[1].characterData

    client.send_analytics_event(EVENT)
    window.location.href = "https://shop.test/checkout"
    client.send_analytics_event(EVENT)  # nothing said it changed: not read again
    window.navigation.fire("currententrychange")  # pushState, a link, back or forward
    client.send_analytics_event(EVENT)
    document.title = "Checkout"
    observer.handler([], observer)  # the title element changed
    client.send_analytics_event(EVENT)
    await client.flush()
    pages = [event["context"]["page"] for event in sent(masivo)]
    assert [p["path"] for p in pages] == ["/cart", "/cart", "/checkout", "/checkout"]
    assert [p["title"] for p in pages] == ["Shop", "Shop", "Shop", "Checkout"]
    client.destroy()
    assert window.navigation.listeners["currententrychange"] == []
    assert observer.observing is None


async def test_the_context_has_no_empty_parts(masivo: FakeMasivo) -> None:
    page = fake_page(FakeLocalStorage())
    page.document.referrer = ""  # a direct visit
    page.document.title = ""
    page.window.location = type("Location", (), {"href": "https://shop.test/"})()
    client = client_for(masivo, page)
    client.send_analytics_event(EVENT)
    await client.flush()
    (event,) = sent(masivo)
    assert event["context"]["page"] == {"url": "https://shop.test/", "path": "/"}
    assert "campaign" not in event["context"]
    client.destroy()


async def test_consent_and_identity_survive_a_key_rotation(
    page_loads: Callable[[], Page], masivo: FakeMasivo
) -> None:
    tab = page_loads()
    old_key = create_client("old-key", transport=masivo.transport, clock=masivo.clock, page=tab)
    old_key.identify("customer-7")
    old_key.opt_out()
    anonymous = old_key.anonymous_id
    old_key.destroy()
    tab = page_loads()  # the next deploy of the site uses a new key
    new_key = create_client("new-key", transport=masivo.transport, clock=masivo.clock, page=tab)
    assert new_key.opted_out  # an opted-out visitor is not tracked again
    assert (new_key.customer_id, new_key.anonymous_id) == ("customer-7", anonymous)
    new_key.destroy()


async def test_records_of_an_earlier_version_move_to_the_site(masivo: FakeMasivo) -> None:
    from masivo_web.engine.event_store import namespace_for

    site = FakeLocalStorage()
    namespace = namespace_for("k", "https://app.masivo.ai/api/storefront/v1")
    site.data[f"masivo_web:{namespace}:identity"] = '{"anonymous_id": "a-1", "customer_id": "c-1"}'
    site.data[f"masivo_web:{namespace}:opted_out"] = "1"
    client = create_client(
        "k", transport=masivo.transport, clock=masivo.clock, page=fake_page(site)
    )
    assert (client.anonymous_id, client.customer_id, client.opted_out) == ("a-1", "c-1", True)
    legacy = (f"masivo_web:{namespace}:identity", f"masivo_web:{namespace}:opted_out")
    assert not any(key in site.data for key in legacy)  # moved, not copied
    client.destroy()


async def test_query_strings_can_be_left_out_of_what_is_sent(masivo: FakeMasivo) -> None:
    page = fake_page(FakeLocalStorage())
    href = "https://shop.test/reset?token=secret&email=a%40b.c&utm_source=mail"
    page.window.location = type("Location", (), {"href": href})()
    page.document.referrer = "https://mail.test/open?id=42"
    client = client_for(masivo, page, query_strings=False)
    client.send_analytics_event(EVENT)
    client.page("Reset")
    await client.flush()
    event, view = sent(masivo)
    assert event["context"]["page"]["url"] == "https://shop.test/reset"
    assert event["context"]["page"]["referrer"] == "https://mail.test/open"
    assert "search" not in event["context"]["page"]
    assert event["context"]["campaign"] == {"source": "mail"}
    assert (view["url"], view["referrer"], view["search"]) == (
        "https://shop.test/reset",
        "https://mail.test/open",
        "",
    )
    assert "secret" not in json.dumps(event) + json.dumps(view)
    client.destroy()
