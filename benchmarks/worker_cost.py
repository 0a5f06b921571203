"""What a worker's client costs the main thread (``make bench`` runs it; figures in
BENCHMARKS.md): the page module's work per tracking call, and its longest task while 100
queued events are sent.

A worker page (``static/test/worker.html``, Pyodide and MicroPython) in headless Chromium
against the emulator. The page times every message handler of its ``BroadcastChannel``s (the
SDK's page module does all its work in one: JSON parse, ``localStorage`` writes, the new plan)
by wrapping the ``onmessage`` setter before anything loads. The worker sends N events, each
in a task of its own (the worst case: one update per call), then flushes 100. Runs are fresh
browser contexts; medians and ranges are printed and written into BENCHMARKS.md (after
``bench.py`` rewrote it: its section "In a PyScript worker").
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from masivo_web.emulator import EmulatorServer  # noqa: E402
from masivo_web.emulator.static import StaticServer  # noqa: E402
from tests.browser.conftest import SETTINGS, client_code  # noqa: E402

TIMING = """() => {
  window.__handlerMs = [];
  const descriptor = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, 'onmessage');
  Object.defineProperty(BroadcastChannel.prototype, 'onmessage', {
    configurable: true,
    get() { return descriptor.get.call(this); },
    set(handler) {
      descriptor.set.call(this, (event) => {
        const started = performance.now();
        try { return handler(event); }
        finally { window.__handlerMs.push(performance.now() - started); }
      });
    },
  });
}"""

CALLS = 200


def measure(interpreter: str, runs: int) -> dict[str, Any]:
    per_call: list[float] = []
    longest: list[float] = []
    with EmulatorServer() as emulator, StaticServer(SETTINGS.STATIC_DIR) as pages:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            options = SETTINGS.launch_options()
            browser = playwright.chromium.launch(
                executable_path=options["executable_path"], args=options["args"]
            )
            for _ in range(runs):
                context = browser.new_context()
                context.add_init_script(f"({TIMING})()")
                page = context.new_page()
                page.goto(f"{pages.url}/test/worker.html?type={interpreter}")
                page.wait_for_function("window.__ready", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS)
                setup = "global masivo\n" + client_code(emulator) + "await masivo.get_token()\n"
                page.evaluate("code => runWorker(code)", setup + "return None\n")
                page.wait_for_timeout(200)
                page.evaluate("window.__handlerMs = []")
                calls = (
                    f"for i in range({CALLS}):\n"
                    "    masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None, n=i)\n"
                    "    await asyncio.sleep(0)\n"
                    "return None\n"
                )
                page.evaluate("code => runWorker(code)", calls)
                page.wait_for_timeout(300)
                handled = page.evaluate("window.__handlerMs")
                # The harness's own channel answered once: its handler is in the list too.
                per_call.append(1000 * (sum(handled) - max(handled)) / CALLS)
                page.evaluate("code => runWorker(code)", "await masivo.flush()\nreturn None\n")
                page.evaluate("window.__handlerMs = []")
                flush = (
                    "for i in range(100):\n"
                    "    masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None, n=i)\n"
                    "await masivo.flush()\n"
                    "return None\n"
                )
                page.evaluate("code => runWorker(code)", flush)
                page.wait_for_timeout(300)
                longest.append(max(page.evaluate("window.__handlerMs") or [0.0]))
                context.close()
            browser.close()
    result = {
        "interpreter": interpreter,
        "main_thread_us_per_call": statistics.median(per_call),
        "main_thread_us_per_call_range": [min(per_call), max(per_call)],
        "longest_task_ms_100_event_flush": statistics.median(longest),
        "longest_task_ms_range": [min(longest), max(longest)],
        "runs": runs,
    }
    print(json.dumps(result))
    return result


SECTION = '## In a PyScript worker (`<script type="py" worker>`, `type="mpy" worker`)'


def write_section(results: list[dict[str, Any]]) -> None:
    """Put the figures into BENCHMARKS.md, before its profiles (replacing an earlier run's)."""
    report = ROOT / "BENCHMARKS.md"
    text = report.read_text()
    if SECTION in text:
        before, _, rest = text.partition(SECTION)
        _, heading, after = rest.partition("\n## ")
        text = before + heading.lstrip("\n") + after
    lines = [
        SECTION,
        "",
        "The main thread's share of a worker's client (`benchmarks/worker_cost.py`, run by "
        f"`make bench`): the SDK's page module, timed around its message handler. {CALLS} "
        "tracking calls, each in a task of its own (one update per call: the module re-reads "
        "the whole plan each time, so the figure grows with what is queued), then 100 events "
        "queued and flushed. Median of the runs, range in brackets. Beside it, the whole cost "
        'of a call by the main-thread SDK is in "Cost per tracking call" above.',
        "",
        "| interpreter | main-thread µs per tracking call | longest main-thread task, 100-event "
        "flush (ms) |",
        "|---|---|---|",
    ]
    for result in results:
        low, high = result["main_thread_us_per_call_range"]
        task_low, task_high = result["longest_task_ms_range"]
        lines.append(
            f"| {'Pyodide' if result['interpreter'] == 'py' else 'MicroPython'} "
            f"| {result['main_thread_us_per_call']:.0f} [{low:.0f} to {high:.0f}] "
            f"| {result['longest_task_ms_100_event_flush']:.1f} [{task_low:.1f} to "
            f"{task_high:.1f}] |"
        )
    section = "\n".join(lines) + "\n\n"
    anchor = "## Profiles"
    text = text.replace(anchor, section + anchor, 1) if anchor in text else text + "\n" + section
    report.write_text(text)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    write_section([measure(name, count) for name in ("py", "mpy")])
