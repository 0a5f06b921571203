"""masivo_web inside Pyodide in real Chromium, against the emulator on another origin (what
both interpreters share is in test_page_scenarios.py)."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Page

import masivo_web
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import (
    boot_harness,
    client_code,
    departure_log,
    record_departure,
    run_python,
)

EVENT = "dict(type='ADD_TO_CART', customer_id='c-1', brand_id=None)"


def test_the_wheel_installs_with_micropip_and_imports(shared_page: Page) -> None:
    platform, version, in_browser = run_python(
        shared_page,
        "import sys, masivo_web\nfrom masivo_web.runtime.interpreter import IS_BROWSER\n"
        "[sys.platform, masivo_web.__version__, IS_BROWSER]",
    )
    assert (platform, version, in_browser) == ("emscripten", masivo_web.__version__, True)


def test_the_precompiled_build_imports_without_compiling_and_delivers(
    browser: Browser, pages_server: StaticServer, fresh_masivo_emulator: EmulatorServer
) -> None:
    page = boot_harness(browser, pages_server, "?wheel=precompiled")
    try:
        compiled, module_file, same_magic, status = json.loads(
            run_python(
                page,
                "import builtins, importlib.util, json\n"
                "compiled, real = [], builtins.compile\n"
                "def counting(source, filename, *args, **kwargs):\n"
                "    compiled.append(str(filename))\n"
                "    return real(source, filename, *args, **kwargs)\n"
                "builtins.compile = counting\n"
                "try:\n"
                "    import masivo_web\n"
                "finally:\n"
                "    builtins.compile = real\n"
                "with open(masivo_web.__file__, 'rb') as module:\n"
                "    ours = module.read(4) == importlib.util.MAGIC_NUMBER\n"
                + client_code(fresh_masivo_emulator, "pre")
                + f"r = await pre.send_analytics_event({EVENT})\n"
                "pre.destroy()\n"
                "json.dumps([[name for name in compiled if 'masivo_web' in name], "
                "masivo_web.__file__, ours, r.status])",
            )
        )
    finally:
        page.context.close()
    assert compiled == []  # nothing of masivo_web was compiled from source
    assert module_file.endswith("masivo_web/__init__.pyc")
    assert same_magic is True  # bytecode of this very Python (the archive has no wheel tag)
    assert status == 201
    assert len(fresh_masivo_emulator.control.received_events()) == 1


def test_events_arrive_cross_origin_with_the_right_fields(
    shared_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    result = run_python(
        shared_page,
        client_code(emulator, "fields", brand_id="brand-456")
        + "d = fields.send_analytics_event(type='ADD_TO_CART', customer_id='customer-123', "
        "platform='web', product={'sku': 'SKU-001', 'amount': 1, 'value': 29.99})\n"
        "await fields.flush()\n"
        "r = await d\n"
        "listening = fields._lifecycle.installed\n"
        "fields.destroy()\n"
        "[r.success, r.status, r.data['id'], listening and not fields._lifecycle.installed]",
    )
    success, status, event_id, listening = result
    assert (success, status, listening) == (True, 201, True)
    (event,) = emulator.control.received_events()
    assert event["event_id"] == event_id
    assert event["brand_id"] == "brand-456"  # injected: the event has a platform
    assert event["product"] == {"sku": "SKU-001", "amount": 1, "value": 29.99}
    assert event["issued_at"].endswith("Z")
    log = emulator.control.requests()
    assert {entry["origin"] for entry in log} == {pages_server.url}
    assert [(entry["method"], entry["route"]) for entry in log if entry["method"] == "POST"] == [
        ("POST", "analytics")
    ]
    assert any(entry["method"] == "OPTIONS" for entry in log)  # CORS preflights happened


def test_the_context_follows_push_state_and_title_changes(
    shared_page: Page, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    run_python(
        shared_page,
        client_code(emulator, "where") + "import asyncio, js\n"
        "original = (js.location.pathname, js.document.title)\n"
        "where.send_analytics_event(type='VIEW', brand_id=None, metadata={'n': 0})\n"
        "js.history.pushState(None, '', '/spa/step-2?utm_source=ad')\n"
        "where.send_analytics_event(type='VIEW', brand_id=None, metadata={'n': 1})\n"
        "js.document.title = 'Step 2'\n"
        "await asyncio.sleep(0.05)\n"
        "where.send_analytics_event(type='VIEW', brand_id=None, metadata={'n': 2})\n"
        "await where.flush()\n"
        "where.destroy()\n"
        "js.history.replaceState(None, '', original[0])\n"
        "js.document.title = original[1]\n",
    )
    events = sorted(emulator.control.received_events(), key=lambda e: e["metadata"]["n"])
    pages = [event["context"]["page"] for event in events]
    assert [page["path"] for page in pages] == ["/test/harness.html", "/spa/step-2", "/spa/step-2"]
    assert events[1]["context"]["campaign"] == {"source": "ad"}
    assert pages[1]["title"] == pages[0]["title"] != "Step 2"
    assert pages[2]["title"] == "Step 2"


def test_a_slow_answer_times_out_as_a_network_error(
    shared_page: Page, fresh_masivo_emulator: EmulatorServer
) -> None:
    fresh_masivo_emulator.control.inject_fault("authorize", delay_s=2.0)
    message = run_python(
        shared_page,
        "from masivo_web.transports.fetch import FetchTransport\n"
        "from masivo_web.transports import Request\n"
        "try:\n"
        f"    await FetchTransport().send(Request('GET', {fresh_masivo_emulator.auth_url!r}, "
        "timeout_s=0.3))\n"
        "except Exception as error:\n"
        "    result = f'{type(error).__name__}: {error}'\n"
        "result",
    )
    assert message.startswith("MasivoNetworkError: No answer")


def test_events_queued_before_any_flush_use_the_token_warmed_at_first_event(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    record_departure(own_page)
    run_python(own_page, client_code(emulator))
    run_python(own_page, f"sent = [masivo.send_analytics_event(**{EVENT}) for _ in range(2)]")
    emulator.control.wait_for_events(0)  # a round trip, so the warm-up authorize has landed
    own_page.wait_for_function(
        "() => runPython('from masivo_web.engine.token_registry import shared_tokens\\n"
        "any(m.cached_token for m in shared_tokens.managers())')",
        timeout=10_000,
    )
    before = run_python(own_page, "[masivo.where(d.event_id) for d in sent]")
    own_page.goto(f"{pages_server.url}/test/elsewhere.html")
    try:
        arrived = emulator.control.wait_for_events(2)
    except TimeoutError as exc:  # say what the page and the server saw
        seen = [(r["method"], r["path"], r["status"]) for r in emulator.control.requests()]
        log = departure_log(own_page)
        raise AssertionError(f"{exc}; before {before}; page {log}; server {seen}") from None
    assert len(arrived) == 2


def test_page_views_context_and_identity_read_the_real_page(
    own_page: Page, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    own_page.goto(f"{pages_server.url}/test/harness.html?utm_source=mail&utm_campaign=launch")
    own_page.wait_for_function("window.__ready")
    anonymous = run_python(
        own_page,
        client_code(emulator)
        + "masivo.page('Harness', {'step': 1})\n"
        + "masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None)\n"
        + "masivo.identify('customer-5')\n"
        + "await masivo.flush()\n"
        + "masivo.anonymous_id",
    )
    view, anonymous_event, identify = emulator.control.received_events()
    assert (view["type"], view["name"], view["properties"]) == ("PAGE_VIEW", "Harness", {"step": 1})
    assert view["path"] == "/test/harness.html"
    assert view["title"] == "masivo_web browser harness"
    assert view["search"] == "?utm_source=mail&utm_campaign=launch"
    context = anonymous_event["context"]
    assert context["user_agent"] == own_page.evaluate("navigator.userAgent")  # any engine's
    assert context["locale"]
    assert context["timezone"]
    assert context["campaign"] == {"source": "mail", "name": "launch"}
    assert context["page"]["url"] == view["url"]
    assert anonymous_event["customer_id"] == anonymous == identify["anonymous_id"]
    own_page.reload()  # identity lives in localStorage: the next page knows the customer
    own_page.wait_for_function("window.__ready")
    known = run_python(
        own_page, client_code(emulator) + "[masivo.anonymous_id, masivo.customer_id]"
    )
    assert known == [anonymous, "customer-5"]
