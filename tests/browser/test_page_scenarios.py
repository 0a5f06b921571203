"""What a page's client does, written once and run on both of PyScript's interpreters in real
Chromium against the emulator: gzip bodies stored, the hidden tab, events queued when the page
navigates away or the tab is closed, a network failure as ``MasivoNetworkError``.

Each harness page (``test/harness.html``: Pyodide; ``test/mpy.html``: MicroPython) runs the
body of an async function here: ``return`` gives the result (as JSON), ``global name`` keeps a
name for the page's later calls.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import HIDE, SHOW, SharedPage, client_code, open_harness

EVENT = "dict(type='ADD_TO_CART', customer_id='c-1', brand_id=None)"
HARNESSES = {"pyodide": "harness.html", "micropython": "mpy.html"}


class Harness:
    """A booted harness page of one interpreter."""

    def __init__(self, page: Page, interpreter: str) -> None:
        self.page = page
        self.interpreter = interpreter

    def run(self, body: str) -> Any:
        """Run ``body`` (an async function's) in the page's Python; its returned value."""
        if self.interpreter == "micropython":  # the harness runs a body as it is
            return json.loads(self.page.evaluate("body => runPython(body)", body))
        code = (
            "async def _scenario():\n"
            + textwrap.indent(body, "    ")
            + "\nimport json\njson.dumps(await _scenario())"
        )
        return json.loads(self.page.evaluate("code => runPython(code)", code))

    def client(self, emulator: EmulatorServer, name: str = "masivo", **options: Any) -> str:
        """The code of a client kept for later calls."""
        return f"global {name}\n" + client_code(emulator, name, **options)


def boot(
    browser: Browser, pages_server: StaticServer, interpreter: str, query: str = ""
) -> Harness:
    page = open_harness(browser.new_context(), pages_server, HARNESSES[interpreter] + query)
    return Harness(page, interpreter)


@pytest.fixture(scope="module", params=list(HARNESSES))
def _shared_pages(
    request: pytest.FixtureRequest, browser: Browser, pages_server: StaticServer
) -> Iterator[tuple[SharedPage, str]]:
    interpreter = str(request.param)
    pages = SharedPage(lambda: boot(browser, pages_server, interpreter).page)
    yield pages, interpreter
    pages.close()


@pytest.fixture
def shared(_shared_pages: tuple[SharedPage, str]) -> Harness:
    """One booted page per interpreter for the scenarios that leave it alive (booted again
    after a renderer crash)."""
    pages, interpreter = _shared_pages
    return Harness(pages.get(), interpreter)


@pytest.fixture(params=list(HARNESSES))
def own(
    request: pytest.FixtureRequest, browser: Browser, pages_server: StaticServer
) -> Iterator[Harness]:
    """A page of its own, for the scenarios that leave it."""
    harness = boot(browser, pages_server, request.param)
    console: list[str] = []
    harness.page.on("console", lambda message: console.append(message.text))
    yield harness
    harness.page.context.close()
    # MicroPython prints this for every `raise ... from exc`: the SDK must never cause it.
    assert not [line for line in console if "chaining not supported" in line], console


@pytest.mark.parametrize("interpreter", list(HARNESSES))
@pytest.mark.parametrize("ship", ["files", "packages"])
def test_the_sdk_ships_as_one_archive_or_as_the_wheel(
    ship: str,
    interpreter: str,
    browser: Browser,
    pages_server: StaticServer,
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    # The archive (the README's snippet: PyScript's ``files``), or the wheel (``packages``).
    query = "?ship=packages" if ship == "packages" else ""
    harness = boot(browser, pages_server, interpreter, query)
    try:
        fetched = harness.page.evaluate(
            "performance.getEntriesByType('resource').map(entry => entry.name)"
        )
        status = harness.run(
            harness.client(fresh_masivo_emulator)
            + f"return (await masivo.send_analytics_event(**{EVENT})).status"
        )
    finally:
        harness.page.context.close()
    assert status == 201
    sdk = [url.rsplit("/", 1)[1] for url in fetched if "/vendor/wheels/masivo_web-" in url]
    assert len(sdk) == 1, fetched
    assert sdk[0].endswith(".tar.gz" if ship == "files" else ".whl")
    # Pyodide installs a wheel with micropip; the archive needs none of it
    assert any("/micropip-" in url for url in fetched) == (
        ship == "packages" and interpreter == "pyodide"
    )


def test_gzip_bodies_are_stored(shared: Harness, fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    shared.run(
        shared.client(emulator, "packed", compression="gzip") + "for n in range(30):\n"
        "    packed.send_analytics_event(type='ADD_TO_CART', brand_id=None, "
        "metadata={'n': n, 'note': 'é' * 40})\n"
        "await packed.flush()\n"
        "packed.destroy()\n"
    )
    stored = emulator.control.received_events()
    assert sorted(event["metadata"]["n"] for event in stored) == list(range(30))
    assert stored[0]["metadata"]["note"] == "é" * 40
    (post,) = [entry for entry in emulator.control.requests() if entry["method"] == "POST"]
    assert post["encoding"] == "gzip"
    plain = len(json.dumps({"events": stored}, separators=(",", ":")).encode())
    assert post["body_bytes"] < plain / 4


def test_a_hidden_tab_sends_its_batch_and_again_after_showing(
    shared: Harness, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    shared.run(shared.client(emulator, "hidden") + "await hidden.get_token()")
    shared.run(f"global first\nfirst = [hidden.send_analytics_event(**{EVENT}) for _ in range(4)]")
    assert emulator.control.requests(route="analytics") == []  # still queued (30 s idle timer)
    shared.page.evaluate(HIDE)
    assert len(emulator.control.wait_for_events(4)) == 4
    # a loop: MicroPython has no await inside a comprehension
    delivered = "results = []\nfor d in first:\n    results.append((await d).success)\n"
    assert shared.run(delivered + "return all(results)") is True
    shared.page.evaluate(SHOW)
    shared.run(f"for _ in range(2):\n    hidden.send_analytics_event(**{EVENT})")
    shared.page.evaluate(HIDE)  # re-armed by becoming visible
    assert len(emulator.control.wait_for_events(6)) == 6
    shared.page.evaluate(SHOW)
    shared.run("hidden.destroy()")
    assert len(emulator.control.requests(route="analytics")) == 2


def test_events_queued_when_the_page_navigates_away_arrive(
    own: Harness, fresh_masivo_emulator: EmulatorServer, pages_server: StaticServer
) -> None:
    emulator = fresh_masivo_emulator
    ids = own.run(
        own.client(emulator)
        + "await masivo.get_token()\n"
        + f"return [masivo.send_analytics_event(**{EVENT}).event_id for _ in range(5)]"
    )
    assert emulator.control.requests(route="analytics") == []
    own.page.goto(f"{pages_server.url}/test/elsewhere.html")
    stored = emulator.control.wait_for_events(5)
    assert sorted(event["event_id"] for event in stored) == sorted(ids)
    assert len(emulator.control.requests(route="analytics")) == 1


def test_events_queued_when_the_tab_is_closed_arrive(
    own: Harness, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    own.run(own.client(emulator) + "await masivo.get_token()")
    own.run(f"for _ in range(3):\n    masivo.send_analytics_event(**{EVENT})")
    own.page.close()
    assert len(emulator.control.wait_for_events(3)) == 3


def test_a_network_failure_is_a_masivo_network_error(shared: Harness) -> None:
    name, message = shared.run(
        "from masivo_web.transports.fetch import FetchTransport\n"
        "from masivo_web.transports import Request\n"
        "from masivo_web import MasivoNetworkError\n"
        "try:\n"
        "    await FetchTransport().send(Request('GET', 'http://127.0.0.1:9/nothing'))\n"
        "except MasivoNetworkError as error:\n"
        "    return [type(error).__name__, error.message]\n"
    )
    assert name == "MasivoNetworkError"
    assert "could not reach" in message
