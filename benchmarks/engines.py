"""masivo_web's figures in each engine a shop's visitors use (Chromium, Firefox ESR, WebKitGTK),
in one run: the time from navigation to the first event acknowledged, the cost of a tracking
call, and the longest task while a flush of 100 events is under way, on the PyScript pages
(Pyodide and MicroPython) of ``make bench``. Rewrites the "Every engine" section of
BENCHMARKS.md (kept by ``bench.py`` when it rewrites the rest) and ``engines.json``.

    python benchmarks/engines.py [runs]

Firefox and WebKit give no traces, so every figure is read by the page's own clock, the same way
in the three engines: calls are timed around each block of 100 (as bench.py times
MicroPython's), and the longest task is the longest gap between the turns of a message loop
the page runs while the flush is under way (a task longer than that gap blocked it).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from common import ISOLATED, PYSCRIPT_PAGE, ROOT, playwright_settings, rewrite_section

from masivo_web.devtools.engines import ENGINES, open_engine
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer

RESULTS = Path(__file__).with_name("engines.json")
PAGES = {"Pyodide": {}, "MicroPython": {"type": "mpy"}}
BLOCKS = 30
START, END = "<!-- engines: start -->", "<!-- engines: end -->"

#: The longest gap between turns of a message loop while ``bench.flushBlock`` runs (ms).
LONGEST_TASK = """async () => {
  const channel = new MessageChannel();
  let last = performance.now(), longest = 0, running = true;
  channel.port1.onmessage = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
  await bench.flushBlock(100, 'engine-flush');
  running = false;
  return longest;
}"""


def measure(
    browser: Any, site: StaticServer, emulator: EmulatorServer, query: dict[str, str]
) -> dict[str, float]:
    """One fresh page: its first event, its calls, its flushes."""
    emulator.control.reset()
    params = {"key": emulator.client_key, "auth": emulator.auth_url, "api": emulator.api_base}
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(playwright_settings().PYODIDE_READY_TIMEOUT_MS)
        page.goto(f"{site.url}/benchmarks/pages/{PYSCRIPT_PAGE}?{urlencode({**params, **query})}")
        page.evaluate("bench.ready()")
        first = page.evaluate("bench.firstEvent()")
        page.evaluate("bench.flushBlock(100, 'warm')")
        longest = statistics.median(page.evaluate(LONGEST_TASK) for _ in range(3))
        blocks = page.evaluate(f"bench.timedCalls({BLOCKS}, 100)")
        return {
            "first_ack_ms": first["ackAt"],
            "per_call_us": statistics.median(blocks) / 100,
            "longest_task_ms": longest,
        }
    finally:
        context.close()


def version(engine: str, browser: Any) -> str:
    """The engine's version as it reports it (WebKit: the installed WebKitGTK driver's)."""
    if engine == "webkit":
        answer = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "webkit2gtk-driver"],
            capture_output=True,
            text=True,
            check=False,
        )
        return f"(WebKitGTK) {answer.stdout.strip() or 'version unknown'}"
    return str(browser.version)


def run(runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"versions": {}, "pages": {}}
    with (
        EmulatorServer() as emulator,
        StaticServer(ROOT, headers=ISOLATED) as site,
        sync_playwright() as playwright,
    ):
        for engine in ENGINES:
            with open_engine(playwright, engine) as browser:
                results["versions"][engine] = version(engine, browser)
                for name, query in PAGES.items():
                    figures = [measure(browser, site, emulator, query) for _ in range(runs)]
                    sorted_figures = {
                        key: sorted(figure[key] for figure in figures) for key in figures[0]
                    }
                    results["pages"][f"{engine}/{name}"] = sorted_figures
                    print(engine, name, sorted_figures, flush=True)
    return results


def section(results: dict[str, Any], runs: int) -> list[str]:
    """The BENCHMARKS.md section for ``results`` (median and range of ``runs`` each)."""
    versions = ", ".join(f"{engine} {version}" for engine, version in results["versions"].items())

    def cell(values: list[float], digits: int = 0) -> str:
        middle = statistics.median(values)
        return f"{middle:,.{digits}f} ({values[0]:,.{digits}f} to {values[-1]:,.{digits}f})"

    lines = [
        START,
        "## Every engine",
        "",
        "`benchmarks/engines.py` (run by `make bench`): the PyScript pages above in each engine, "
        f"one run, median of {runs} fresh pages each with the range in brackets. Read by the "
        "page's clock in all three (Firefox and WebKit give no traces): calls timed around "
        "blocks of 100, the longest task as the longest gap between turns of a message loop while "
        f"a flush of 100 events is under way. {versions}.",
        "",
        "| engine | page | first event acknowledged from navigation (ms) "
        "| per tracking call (µs) | longest task during a flush (ms) |",
        "|---|---|---|---|---|",
    ]
    for key, figures in results["pages"].items():
        engine, page = key.split("/")
        lines.append(
            f"| {engine} | {page} | {cell(figures['first_ack_ms'])} | "
            f"{cell(figures['per_call_us'])} | {cell(figures['longest_task_ms'], 1)} |"
        )
    return [*lines, END]


def write(results: dict[str, Any], runs: int) -> None:
    RESULTS.write_text(json.dumps({"runs": runs, "results": results}, indent=1) + "\n")
    rewrite_section(START, END, section(results, runs))


def kept_section() -> list[str]:
    """The section from the last engines run, for bench.py's rewrite of BENCHMARKS.md."""
    if not RESULTS.exists():
        return []
    saved = json.loads(RESULTS.read_text())
    return ["", *section(saved["results"], saved["runs"])]


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    write(run(count), count)
