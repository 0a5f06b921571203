"""Two probes behind what BENCHMARKS.md says bounds the flush and the first call of a block.

    .venv/bin/python benchmarks/probes.py flush-trace   # a Chromium trace of 3 steady flushes
    .venv/bin/python benchmarks/probes.py first-call    # what posting next turn's work costs

Both open masivo_web's bench page (``benchmarks/pages/masivo.html``) against the emulator, as
``bench.py`` does, and print what they measured; nothing is written. Not part of ``make bench``:
they are the profiles quoted in ``benchmarks/NOTES.md``, kept so that anyone can measure again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import masivo_browser, masivo_page_url  # noqa: E402
from measure import main_thread_tasks, trace_events  # noqa: E402

from masivo_web.emulator import EmulatorServer  # noqa: E402
from masivo_web.emulator.static import StaticServer  # noqa: E402

#: Enough to see Blink's fetch and the URL loader inside a task, and what V8 runs.
TRACE_CATEGORIES = [
    "toplevel",
    "blink",
    "blink.user_timing",
    "loading",
    "v8",
    "v8.execute",
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-v8.gc",
]

#: The cost of one call from Python, each after 5 ms idle (as the first call of a block is).
FIRST_CALL_PY = """
import js
from pyodide.ffi import create_proxy
from masivo_web.runtime import scheduling
_noop = create_proxy(lambda *_: None)
_channel = js.MessageChannel.new()
_channel.port1.onmessage = _noop
_post = _channel.port2.postMessage
_now = js.performance.now
_probes = {
    "postMessage, from Python": lambda: _post(None),
    "setTimeout(proxy, 0), from Python": lambda: js.setTimeout(_noop, 0),
    "performance.now(), from Python": lambda: _now(),
    "scheduling.next_turn(), first of a turn": lambda: scheduling.next_turn(lambda: None),
}
def _probe(name):
    started = _now()
    _probes[name]()
    return _now() - started
"""
FIRST_CALL_JS = """async () => {
  const probe = pyodide.globals.get("_probe");
  const names = [...pyodide.runPython("list(_probes)").toJs(), "postMessage, from plain JS"];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {};
  const times = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < 60; round++) {
    for (const name of names) {
      await new Promise((done) => setTimeout(done, 5));
      if (name.endsWith("plain JS")) {
        const started = performance.now();
        channel.port2.postMessage(undefined);
        times[name].push(performance.now() - started);
      } else {
        times[name].push(probe(name));
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return names.map((name) => [name, Math.round(median(times[name]) * 1000)]);
}"""


def open_page(browser: Any, site: StaticServer, emulator: EmulatorServer) -> Any:
    page = browser.new_page()
    page.set_default_timeout(120_000)
    page.goto(masivo_page_url(site, emulator))
    page.evaluate("bench.ready()")
    page.evaluate("bench.firstEvent()")
    return page


def flush_trace(browser: Any, page: Any) -> None:
    """The longest main-thread task of each of 3 steady flushes, and what ran inside it."""
    for number in range(3):  # the first flush is not steady
        page.evaluate("(label) => bench.flushBlock(100, label)", f"warm{number}")
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    for number in range(3):
        page.evaluate("(label) => bench.flushBlock(100, label)", f"flush{number}")
    events = trace_events(browser.stop_tracing())
    marks = {e["name"]: e for e in events if e.get("cat") == "blink.user_timing"}
    for number in range(3):
        start, end = marks[f"flush{number}:start"], marks[f"flush{number}:end"]
        thread = (start["pid"], start["tid"])
        tasks = [
            (a, b)
            for a, b in main_thread_tasks(events, thread)
            if b > start["ts"] and a < end["ts"]
        ]
        first, last = max(tasks, key=lambda task: task[1] - task[0])
        print(f"flush {number}: {len(tasks)} tasks; longest {(last - first) / 1000:.2f} ms:")
        inside = [
            event
            for event in events
            if (event.get("pid"), event.get("tid")) == thread
            and event.get("ph") == "X"
            and first <= event["ts"]
            and event["ts"] + event.get("dur", 0) <= last
            and event.get("dur", 0) > 100
        ]
        for event in sorted(inside, key=lambda event: event["ts"]):
            cpu = f", {event['tdur'] / 1000:5.2f} ms on the CPU" if "tdur" in event else ""
            print(
                f"  at +{(event['ts'] - first) / 1000:5.2f} ms, {event['dur'] / 1000:5.2f} ms"
                f"{cpu}: {event['name']} ({event['cat']})"
            )


def first_call(browser: Any, page: Any) -> None:
    """Medians (µs) of the calls the first tracking call of a block makes or resembles."""
    page.evaluate("(code) => pyodide.runPython(code)", FIRST_CALL_PY)
    for name, micros in page.evaluate(FIRST_CALL_JS):
        print(f"{name}: {micros} µs")


PROBES: dict[str, Callable[[Any, Any], None]] = {
    "flush-trace": flush_trace,
    "first-call": first_call,
}


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in PROBES:
        print(__doc__)
        return 2
    with masivo_browser() as (browser, site, emulator):
        PROBES[sys.argv[1]](browser, open_page(browser, site, emulator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
