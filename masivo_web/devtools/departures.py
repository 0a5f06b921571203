"""Leaving a page, measured: what reaches the server *from the page the visitor leaves*, and what
only the next page of the site sends.

Each scenario runs in real Chromium against the emulator, in a fresh browser context (a new
visit): Pyodide pages of the harness (``static/test/harness.html``) create a client, queue
events and are left at once (navigated away, closed, reloaded): in the task right after the
last tracking call's, as a click on a link would. Then the emulator's store is read twice:

- **on the page**: what was stored before any later page of the site ran the SDK (the page left
  for has none), waiting up to :data:`ON_PAGE_WAIT_S` for the departing page's requests;
- **after return**: once a page of the site ran the SDK again and adopted what was left.

A scenario runs on the **first** page of a visit (the client is created, the calls come
``delay_ms`` later) or on a **later** page of the same tab (an earlier page already got a
token; the calls come in the same turn as ``create_client``). Every count is by ``event_id``;
"stored twice" counts events the server stored more than once: the emulator stores every copy,
as the documented service does, so that is every event a later page sent again although the
departing page's request had brought it. Only a page left while the service was failing may
do that (its events stay stored: nothing says its last requests arrived).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..emulator.server import EmulatorServer
from .departure_scenarios import SCENARIOS, Outcome, Result, Scenario, table

#: How long the departing page's requests may take to be stored ("on the page").
ON_PAGE_WAIT_S = 3.0
#: How long the page that comes back may take to send what was left ("after return").
RETURN_WAIT_S = 20.0


def client_code(emulator: EmulatorServer, options: str = "") -> str:
    """Python that makes ``masivo``, a client of ``emulator`` (``options``: more arguments)."""
    extra = f", {options}" if options else ""
    return (
        "from masivo_web import create_client\n"
        f"masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
        f"api_base={emulator.api_base!r}{extra})\n"
    )


def _calls(count: int, page: str) -> str:
    return (
        "import json as _json\n"
        f"_ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='visitor', "
        f"brand_id=None).event_id for _ in range({count})]\n" + _ids_as_json(page)
    )


def _ids_as_json(page: str) -> str:
    """The last line of the harness ``page``'s Python, whose value the page gives back as JSON:
    Pyodide's is its last expression, MicroPython's (``mpy.html``) is ``return``ed and encoded
    by the page."""
    return "return _ids\n" if page.startswith("mpy") else "_json.dumps(_ids)\n"


#: Runs the page's Python, then leaves at once: in the very next task, as a click on a link
#: would (leaving in the same task races Playwright's own reply to this evaluation). Returns
#: the event ids and how long after the Python started the page was left.
_RUN_THEN_LEAVE = """async ([code, leave, elsewhere]) => {
  const started = performance.now();
  const ids = await runPython(code);
  const after = performance.now() - started;
  if (leave === "navigate") setTimeout(() => { location.href = elsewhere; }, 0);
  else if (leave === "reload") setTimeout(() => location.reload(), 0);
  return [ids, after];
}"""


def run_scenario(
    browser: Any,
    scenario: Scenario,
    emulator: EmulatorServer,
    site_url: str,
    settings: Any,
    page_name: str = "harness.html",
) -> Outcome:
    """One fresh visit that leaves a page as ``scenario`` says; the counts. ``page_name``: the
    harness page (``mpy.html``: PyScript's MicroPython)."""
    emulator.control.reset()
    harness, elsewhere = f"{site_url}/test/{page_name}", f"{site_url}/test/elsewhere.html"
    client = client_code(emulator, scenario.options)
    context = browser.new_context()
    try:
        page = _open(context, harness, settings)
        if scenario.later_page:  # an earlier page of the tab got a token, then a link
            page.evaluate("code => runPython(code)", client + "await masivo.get_token()\n")
            page.goto(harness)
            page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        code = client
        if scenario.delay_ms:
            code += f"import asyncio\nawait asyncio.sleep({scenario.delay_ms / 1000})\n"
        code += _calls(scenario.events, page_name)
        leave = "" if scenario.leave == "close" else scenario.leave
        if scenario.failures_first:
            # The calls, then both failing answers (the events wait for their backoff), and
            # only then the leave.
            emulator.control.inject_fault("analytics", status=503, count=scenario.failures_first)
            code += "import asyncio\n_flushing = asyncio.ensure_future(masivo.flush())\n"
            code += _ids_as_json(page_name)
            ids_json, after_ms = page.evaluate(_RUN_THEN_LEAVE, [code, "", elsewhere])
            first_id = json.loads(ids_json)[0]
            _until(
                lambda: len(emulator.control.requests(route="analytics")) >= scenario.failures_first
            )
            where = "id => runPython(`masivo.where('${id}')`)"
            _until(lambda: page.evaluate(where, first_id) == "queued")
            page.evaluate(f"() => {{ setTimeout(() => {{ location.href = {elsewhere!r}; }}, 0); }}")
        else:
            ids_json, after_ms = page.evaluate(_RUN_THEN_LEAVE, [code, leave, elsewhere])
        if scenario.leave == "navigate":  # gone, before anything else navigates this tab
            page.wait_for_url(elsewhere)
        if scenario.leave == "close":
            page.close()
        ids = json.loads(ids_json)
        on_page = _stored(emulator, ids, wait_s=ON_PAGE_WAIT_S)
        # Come back: a page of the site runs the SDK again (the reloaded page itself, or a new
        # page of the visit) and sends what was left.
        back = page if scenario.leave == "reload" else _reopen(context, page, harness, settings)
        if scenario.leave == "reload":
            back.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        back.evaluate("code => runPython(code)", client)
        after_return = _stored(emulator, ids, wait_s=RETURN_WAIT_S)
        counts: dict[str, int] = {}
        for event in emulator.control.received_events():
            counts[event["event_id"]] = counts.get(event["event_id"], 0) + 1
        twice = sum(1 for event_id in ids if counts.get(event_id, 0) > 1)
        return Outcome(len(ids), on_page, after_return, twice, after_ms)
    finally:
        context.close()


def _until(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not get there in time")
        time.sleep(0.02)


def _open(context: Any, url: str, settings: Any) -> Any:
    page = context.new_page()
    page.set_default_timeout(settings.ACTION_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
    return page


def _reopen(context: Any, page: Any, harness: str, settings: Any) -> Any:
    if page.is_closed():
        return _open(context, harness, settings)
    page.goto(harness)
    page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
    return page


def _stored(emulator: EmulatorServer, ids: list[str], *, wait_s: float) -> int:
    """How many of ``ids`` the server stored, waiting up to ``wait_s`` for all of them."""
    wanted = set(ids)
    deadline = time.monotonic() + wait_s
    while True:
        stored = {e["event_id"] for e in emulator.control.received_events()} & wanted
        if len(stored) == len(wanted) or time.monotonic() >= deadline:
            return len(stored)
        time.sleep(0.1)


def run_all(
    browser: Any, settings: Any, runs: int, scenarios: list[Scenario] | None = None
) -> list[Result]:
    """Every scenario ``runs`` times (interleaved, so a slow moment hits all)."""
    from ..emulator.static import StaticServer
    from .demo import STATIC

    chosen = scenarios or SCENARIOS
    results = [Result(scenario) for scenario in chosen]
    with EmulatorServer() as emulator, StaticServer(STATIC) as site:
        for _ in range(runs):
            for result in results:
                result.runs.append(
                    run_scenario(browser, result.scenario, emulator, site.url, settings)
                )
    return results


#: In a first page: how long after create_client the token is there (the window in which a
#: page left sends nothing and leaves its events to the next page).
_TOKEN_WINDOW = """
import asyncio, time
from masivo_web.engine.token_registry import shared_tokens
_started = time.perf_counter()
{client}
while not any(m.cached_token for m in shared_tokens.managers()):
    await asyncio.sleep(0.001)
(time.perf_counter() - _started) * 1000
"""


def token_window_ms(browser: Any, settings: Any, runs: int) -> list[float]:
    """Milliseconds from ``create_client`` to a cached token, on the first page of a visit."""
    from ..emulator.static import StaticServer
    from .demo import STATIC

    windows = []
    with EmulatorServer() as emulator, StaticServer(STATIC) as site:
        for _ in range(runs):
            context = browser.new_context()
            try:
                page = _open(context, f"{site.url}/test/harness.html", settings)
                code = _TOKEN_WINDOW.format(client=client_code(emulator, ""))
                windows.append(float(page.evaluate("code => runPython(code)", code)))
            finally:
                context.close()
    return windows


def run_departures(runs: int) -> bool:
    """Each way of leaving a page, ``runs`` times, in Chromium; prints the table and whether
    every target was met."""
    from playwright.sync_api import sync_playwright

    from . import browser_settings

    settings = browser_settings.load()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**settings.launch_options())
        try:
            results = run_all(browser, settings, runs)
            windows = token_window_ms(browser, settings, runs)
        finally:
            browser.close()
    print(f"\nLeaving a page (Chromium, median of {runs} runs, range in brackets):\n")
    print(table(results))
    low, high = min(windows), max(windows)
    middle = sorted(windows)[len(windows) // 2]
    print(
        f"\nFirst page of a visit: the token is there {middle:.0f} ms ({low:.0f}-{high:.0f}) "
        "after create_client; a page left before then leaves its events to the next page."
    )
    missed = [miss for result in results for miss in result.missed()]
    print("MISSED: " + "; ".join(missed) if missed else "OK: every departure target met.")
    return not missed
