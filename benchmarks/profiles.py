"""Where the time goes: cProfile of tracking calls, a flush and the import inside the page,
the flush's pieces, and the CPython tracking call."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from common import EVENT, masivo_page_url

from masivo_web import create_client
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer

PROFILE = """
import cProfile, io, pstats
_profile = cProfile.Profile()
def _report(top):
    out = io.StringIO()
    stats = pstats.Stats(_profile, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return "\\n".join(line for line in out.getvalue().splitlines() if line.strip())
"""


FLUSH_PARTS = """
import statistics, time
from masivo_web import create_client
from masivo_web.browser.current import current_page
from masivo_web.browser.storage import FallbackStorage, LocalStorage
from masivo_web.transports import default_transport
_parts = {}
def _timed(name, real):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            _parts.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return timed
class _TimedTransport:
    # The client's own transport, given to create_client: starts are timed, bodies counted.
    def __init__(self, real):
        self._real = real
        self.start = _timed("start it: fetch() called synchronously", self._start)
    def _start(self, request):
        global _body_bytes
        _body_bytes = len(request.body or b"")
        return self._real.start(request)
    async def send(self, request):
        return await self.start(request)
class _TimedStorage(FallbackStorage):
    # The page's localStorage as the client sees it: each write (one per stored segment) timed.
    def __init__(self, page):
        super().__init__(LocalStorage(page.local_storage))
        self.set = _timed("write a segment of events to localStorage", super().set)
masivo.destroy()
masivo = create_client(options["key"], auth_url=options["auth"], api_base=options["api"],
                       compression=options["compression"] or None,
                       transport=_TimedTransport(default_transport()),
                       storage=_TimedStorage(current_page()))
def _parts_report():
    return "\\n".join(
        f"| {name} | {statistics.median(times):.2f} | {max(times):.2f} |"
        for name, times in _parts.items()
    )
"""


#: Where a 100-call block's time goes, call by call (``performance.now`` around each call, 5 µs
#: resolution), beside the same calls in one tight loop and a control: a Python function of
#: arithmetic only, called the same way. Returns a Markdown table's rows.
CALL_POSITIONS = """async () => {
  const burn = pyodide.runPython(
    "def _burn(i):\\n    s = 0\\n    for k in range(300): s += k\\n_burn");
  const us = (ms) => Math.round(ms * 1000);
  const rows = [];
  for (const [name, fn] of [["masivo_web track()", sdk.track], ["control: arithmetic", burn]]) {
    let tight = Infinity;
    for (let r = 0; r < 5; r++) {
      const s = performance.now();
      for (let i = 0; i < 1000; i++) fn(i);
      tight = Math.min(tight, (performance.now() - s) / 1000);
    }
    const first = [], second = [], rest = [];
    for (let b = 0; b < 40; b++) {
      await new Promise((done) => setTimeout(() => {
        for (let i = 0; i < 100; i++) {
          const s = performance.now();
          fn(i);
          (i === 0 ? first : i === 1 ? second : rest).push(performance.now() - s);
        }
        done();
      }, 0));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const all = [...first, ...second, ...rest];
    rows.push(`| ${name} | ${us(tight)} | ${us(median(first))} | ${us(median(second))} | ` +
      `${us(median(rest))} | ${us(mean(rest))} | ${us(mean(all))} | ` +
      `${[...second, ...rest].filter((x) => x > 0.3).length} of ${all.length - first.length} |`);
  }
  return rows.join("\\n");
}"""


#: The floor under a flush's longest task: ``fetch()`` called from plain JS in the same page, to
#: the same server, with a body of the size the last flush sent and with none, each after an
#: idle moment as a flush's request is. Only the synchronous call is timed; the server answers
#: 401 (no token), which does not matter to the call. Returns Markdown table rows.
BARE_FETCH = """async (api) => {
  const size = pyodide.globals.get("_body_bytes");
  const body = new Uint8Array(size).fill(32);
  const rows = [];
  for (const [name, init] of [
    [`the same, from plain JS (${size} bytes of body, no Python)`, { body }],
    ["the same, from plain JS, no body", {}],
  ]) {
    const times = [];
    for (let i = 0; i < 15; i++) {
      await new Promise((done) => setTimeout(done, 50));
      const started = performance.now();
      const headers = { authorization: "Bearer none", "content-type": "application/json" };
      const answer = fetch(`${api}/analytics/events`, { method: "POST", headers, ...init });
      times.push(performance.now() - started);
      await answer.catch(() => null);
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${name} | ${times[times.length >> 1].toFixed(2)} | ${times.at(-1).toFixed(2)} |`);
  }
  return rows.join("\\n");
}"""


def profiles(browser: Any, site: StaticServer, emulator: EmulatorServer) -> dict[str, str]:
    """cProfile of 1,000 tracking calls and of one 100-event flush inside the page, and of the
    cold import (in a second page: the import is only cold once)."""
    emulator.control.reset()
    found = {}
    context = browser.new_context()
    page = context.new_page()
    page.goto(masivo_page_url(site, emulator))
    page.evaluate("bench.ready()")
    page.evaluate("bench.firstEvent()")
    found["call_positions"] = page.evaluate(CALL_POSITIONS)
    page.evaluate("(code) => pyodide.runPython(code)", PROFILE)
    found["calls"] = page.evaluate(
        """async () => {
            const profile = pyodide.globals.get("_profile");
            profile.enable();
            for (let b = 0; b < 10; b++) {
                for (let i = 0; i < 100; i++) sdk.track(i);
                await new Promise((done) => setTimeout(done, 0));
            }
            profile.disable();
            return pyodide.runPython("_report(14)");
        }"""
    )
    page.evaluate("(code) => pyodide.runPython(code)", PROFILE)
    found["flush"] = page.evaluate(
        """async () => {
            await bench.flushBlock(100, "warm");  // not the first flush
            const profile = pyodide.globals.get("_profile");
            profile.enable();
            await bench.flushBlock(100, "profiled");
            profile.disable();
            return pyodide.runPython("_report(14)");
        }"""
    )
    page.evaluate("(code) => pyodide.runPython(code)", FLUSH_PARTS)
    for number in range(5):
        page.evaluate("(label) => bench.flushBlock(100, label)", f"parts{number}")
    found["flush_parts"] = page.evaluate("() => pyodide.runPython('_parts_report()')")
    found["flush_parts"] += "\n" + page.evaluate(BARE_FETCH, emulator.api_base)
    context.close()
    context = browser.new_context()
    page = context.new_page()
    page.goto(masivo_page_url(site, emulator, profile_import="1"))
    page.evaluate("bench.ready()")
    found["import"] = page.evaluate("sdk.importProfile")
    context.close()
    return found


# -- CPython ----------------------------------------------------------------------------------


def cpython_profiles() -> dict[str, str]:
    """cProfile of 9,000 enqueues under CPython, and what the emulator spends per event."""
    import cProfile
    import io
    import pstats
    import uuid

    from masivo_web.emulator.store import EmulatorState
    from masivo_web.emulator.validation import check_event, encode_event
    from masivo_web.rules.http import Response
    from masivo_web.transports import MockTransport

    profile = cProfile.Profile()

    async def enqueue() -> None:
        client = create_client("k", transport=MockTransport(lambda r: Response(200)))
        profile.enable()
        for _ in range(9_000):
            client.send_analytics_event(EVENT)
        profile.disable()
        client.opt_out()
        client.destroy()

    asyncio.run(enqueue())
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    enqueue_text = "\n".join(line for line in out.getvalue().splitlines() if line.strip())

    state = EmulatorState()
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    events = [{**EVENT, "event_id": str(uuid.uuid4()), "issued_at": stamp} for _ in range(5_000)]
    body = json.dumps({"events": events[:100]}).encode()
    timings = {}
    started = time.perf_counter()
    for _ in range(50):
        json.loads(body)
    timings["parse the request body (JSON)"] = (time.perf_counter() - started) / 5_000
    started = time.perf_counter()
    texts = [encode_event(event) for event in events]
    timings["encode it (size check and stored text)"] = (time.perf_counter() - started) / 5_000
    started = time.perf_counter()
    for event, text in zip(events, texts, strict=True):
        assert check_event(event, key_kind="client", now=now, text=text) is None
    timings["check the event (as Masivo would)"] = (time.perf_counter() - started) / 5_000
    started = time.perf_counter()
    for start in range(0, len(events), 100):
        chunk = list(zip(events[start : start + 100], texts[start : start + 100], strict=True))
        state.store_events(chunk, route="analytics", key_kind="client")
    timings["store it (SQLite, one transaction per batch)"] = (
        time.perf_counter() - started
    ) / 5_000
    emulator_text = "\n".join(
        f"| {name} | {seconds * 1e6:.1f} |" for name, seconds in timings.items()
    )
    return {"cpython_enqueue": enqueue_text, "emulator_per_event": emulator_text}


# -- report -----------------------------------------------------------------------------------
