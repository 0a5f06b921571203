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
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from ..emulator.server import EmulatorServer

#: How long the departing page's requests may take to be stored ("on the page").
ON_PAGE_WAIT_S = 3.0
#: How long the page that comes back may take to send what was left ("after return").
RETURN_WAIT_S = 20.0


@dataclass(frozen=True)
class Scenario:
    """One way of leaving a page."""

    name: str
    leave: str  # "navigate", "close" or "reload"
    events: int
    later_page: bool
    delay_ms: int = 0  # first page only: calls this long after create_client
    failures_first: int = 0  # the batch route answers 503 this many times before the leave
    options: str = ""  # extra create_client arguments, as Python source
    #: Targets on the medians (None: measured, not a target).
    on_page_target: int | None = None
    after_return_target: int | None = None


#: The scenarios ``make reliability`` measures (and the README's table shows). Targets: every
#: event of a page left at once on a later page of the tab, or 300 ms after create_client on the
#: first page, is stored before any later page of the site loads; every event that met two 503s
#: is stored once the visitor comes back; none is stored twice where the service answered
#: normally (every scenario without failures; with them, re-sending is the design).
SCENARIOS = [
    Scenario(
        f"{how}, {where}",
        leave,
        30,
        later,
        delay_ms=delay,
        on_page_target=target,
        after_return_target=30,  # nothing lost, whichever page sends it
    )
    for later, where, delay, target in (
        (False, "first page, calls at once", 0, None),
        (False, "first page, calls 300 ms in", 300, 30),
        (True, "later page", 0, 30),
    )
    for how, leave in (
        ("navigate at once", "navigate"),
        ("close the tab at once", "close"),
        ("reload at once", "reload"),
    )
] + [
    Scenario(
        f"{how}, {where}",
        "navigate",
        events,
        later,
        delay_ms=0 if later else 300,
        failures_first=failures,
        options=options,
        after_return_target=events,
    )
    for later, where in ((False, "first page, calls 300 ms in"), (True, "later page"))
    for how, events, failures, options in (
        ("503 twice, then navigate", 50, 2, ""),
        ("500 calls, navigate at once", 500, 0, ""),
        ("500 calls, gzip, navigate at once", 500, 0, "compression='gzip'"),
    )
]
# The first page's "calls at once" leaves within the token's round trip: measured, no target.


@dataclass
class Outcome:
    """The counts of one run of a scenario."""

    sent: int
    on_page: int
    after_return: int
    stored_twice: int
    leave_after_ms: float = 0.0  # from create_client to the leave, in the page


@dataclass
class Result:
    """A scenario's runs, summarised as medians with ranges."""

    scenario: Scenario
    runs: list[Outcome] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in self.runs))

    def missed(self) -> list[str]:
        """The targets this scenario's medians miss (empty: all met)."""
        missed = []
        scenario = self.scenario
        for name, target in (
            ("on_page", scenario.on_page_target),
            ("after_return", scenario.after_return_target),
        ):
            if target is not None and self.median(name) < target:
                missed.append(f"{scenario.name}: {name} {self.median(name):g} < {target}")
        if not scenario.failures_first and any(run.stored_twice for run in self.runs):
            missed.append(f"{scenario.name}: events stored twice")
        return missed

    def span(self, name: str) -> str:
        values = [getattr(run, name) for run in self.runs]
        low, high = min(values), max(values)
        return f"{self.median(name):g}" + (f" ({low:g}-{high:g})" if low != high else "")


def client_code(emulator: EmulatorServer, options: str = "") -> str:
    """Python that makes ``masivo``, a client of ``emulator`` (``options``: more arguments)."""
    extra = f", {options}" if options else ""
    return (
        "from masivo_web import create_client\n"
        f"masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
        f"api_base={emulator.api_base!r}{extra})\n"
    )


def _calls(count: int) -> str:
    return (
        "import json as _json\n"
        f"_ids = [masivo.send_analytics_event(type='ADD_TO_CART', customer_id='visitor', "
        f"brand_id=None).event_id for _ in range({count})]\n"
        "_json.dumps(_ids)\n"
    )


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
    browser: Any, scenario: Scenario, emulator: EmulatorServer, site_url: str, settings: Any
) -> Outcome:
    """One fresh visit that leaves a page as ``scenario`` says; the counts."""
    emulator.control.reset()
    harness, elsewhere = f"{site_url}/test/harness.html", f"{site_url}/test/elsewhere.html"
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
        code += _calls(scenario.events)
        leave = "" if scenario.leave == "close" else scenario.leave
        if scenario.failures_first:
            # The calls, then both failing answers (the events wait for their backoff), and
            # only then the leave.
            emulator.control.inject_fault("analytics", status=503, count=scenario.failures_first)
            code += "import asyncio\n_flushing = asyncio.ensure_future(masivo.flush())\n"
            code += "_json.dumps(_ids)\n"
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


def table(results: list[Result]) -> str:
    """The README's table: medians, with the range in brackets when runs differ."""
    lines = [
        "| scenario | events | on the page | after return | stored twice |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.scenario.name} | {result.scenario.events} | {result.span('on_page')} "
            f"| {result.span('after_return')} | {result.span('stored_twice')} |"
        )
    return "\n".join(lines)
