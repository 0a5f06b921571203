"""A PyScript worker page under a Content-Security-Policy that forbids ``data:`` scripts (issue:
field conditions, item 5), in real Chromium: the SDK's main-thread module loads as a same-origin
file served beside the wheel, so the page-hide flush works; when it cannot load at all, the
worker's client works as a plain client (memory queue, normal sends) and says so in one short
line, instead of sending nothing at all."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from masivo_web.browser.main_thread import FILE_NAME
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS, client_code, open_harness
from tests.browser.test_worker_page import (
    open_worker_page,
    queue_events,
    run_worker,
    run_worker_then_navigate,
    stored,
)

#: The README's policy for a masivo_web page: what PyScript needs (eval for its interpreters,
#: wasm, blob: workers and their fetches) and Masivo's origins (here: any), with no ``data:``
#: script. ('unsafe-inline' is for this harness's own inline scripts.)
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' "
    "'wasm-unsafe-eval' blob:{data}; worker-src 'self' blob:; connect-src * blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)
NO_DATA_SCRIPTS = {"Content-Security-Policy": POLICY.format(data="")}
#: The same with ``data:`` scripts allowed: what a worker's page-hide flush needs.
WITH_DATA_SCRIPTS = {"Content-Security-Policy": POLICY.format(data=" data:")}
EVENTS = 12
MODULE = FILE_NAME


@pytest.fixture(scope="module")
def csp_server() -> Iterator[StaticServer]:
    with StaticServer(SETTINGS.STATIC_DIR, headers=NO_DATA_SCRIPTS) as server:
        yield server


@pytest.mark.parametrize("interpreter", ["py", "mpy"])
def test_under_script_src_self_the_module_file_keeps_the_page_hide_flush(
    interpreter: str,
    csp_server: StaticServer,
    browser: Browser,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    """The module is served beside the wheel (as the bundle does): no data: script needed."""
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    console: list[str] = []
    modules: list[str] = []
    context.on(
        "request", lambda request: modules.append(request.url) if MODULE in request.url else None
    )
    try:
        page = open_worker_page(context, f"{csp_server.url}/test/worker.html?type={interpreter}")
        page.on("console", lambda message: console.append(message.text))
        ids = run_worker_then_navigate(page, queue_events(emulator))
        assert stored(emulator, ids) == len(ids) > 0  # sent by the page's own hide listener
        assert not [line for line in console if "main-thread module" in line], console
        assert len(modules) == 1 and modules[0].startswith(f"{csp_server.url}/vendor/wheels/")
    finally:
        context.close()


@pytest.mark.parametrize("interpreter", ["py", "mpy"])
def test_a_worker_whose_module_cannot_load_still_sends_and_says_what_it_cannot_keep(
    interpreter: str,
    csp_server: StaticServer,
    browser: Browser,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    """No module file (the wheel alone was copied) and no data: scripts: the worker's client
    works alone."""
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    context.route(f"**/{MODULE}*", lambda route: route.abort())
    console: list[str] = []
    try:
        page = open_worker_page(context, f"{csp_server.url}/test/worker.html?type={interpreter}")
        page.on("console", lambda message: console.append(message.text))
        ids = run_worker(
            page,
            "global masivo\n"
            + client_code(emulator)
            + f"ids = [masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None, n=i)"
            f".event_id for i in range({EVENTS})]\n"
            + "await __import__('asyncio').wait_for(masivo.flush(), 20)\n"
            + "return ids\n",
        )
        assert stored(emulator, ids) == EVENTS
        said = [line for line in console if "main-thread module" in line]
        assert len(said) == 1, console
        assert len(said[0]) < 400 and "data:text/javascript" not in said[0]
        assert (
            json.loads(page.evaluate("code => runWorker(code)", "return masivo.pending_events"))
            == 0
        )
    finally:
        context.close()


@pytest.fixture(scope="module")
def data_server() -> Iterator[StaticServer]:
    with StaticServer(SETTINGS.STATIC_DIR, headers=WITH_DATA_SCRIPTS) as server:
        yield server


@pytest.mark.parametrize("interpreter", ["py", "mpy"])
def test_a_worker_under_a_csp_with_data_scripts_keeps_its_page_hide_flush(
    interpreter: str,
    data_server: StaticServer,
    browser: Browser,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    context = browser.new_context()
    try:
        page = open_worker_page(context, f"{data_server.url}/test/worker.html?type={interpreter}")
        ids = run_worker_then_navigate(page, queue_events(emulator))
        assert stored(emulator, ids) == len(ids) > 0
    finally:
        context.close()


@pytest.mark.parametrize("harness", ["harness.html", "mpy.html"])
def test_a_main_thread_page_under_the_csp_sends(
    harness: str, csp_server: StaticServer, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    page = open_harness(browser.new_context(), csp_server, harness)
    try:
        code = (
            client_code(emulator)
            + "r = await masivo.send_analytics_event("
            + ("type='ADD_TO_CART', customer_id='c-1', brand_id=None)\n")
        )
        if harness == "mpy.html":
            page.evaluate("body => runPython(body)", code + "return r.status")
        else:
            page.evaluate("code => runPython(code)", code + "r.status")
        assert len(emulator.control.wait_for_events(1, type="ADD_TO_CART")) == 1
    finally:
        page.context.close()
