"""masivo_web beside posthog-js and @segment/analytics-next, in one headless Chromium, and
masivo_web under CPython. Rewrites BENCHMARKS.md and benchmarks/chart.png.

    make bench                                  # installs what it needs, then runs this
    .venv/bin/python benchmarks/bench.py [--runs 3] [--blocks 100] [--only NAME]

Every SDK gets the same workload on its own page, served cross-origin isolated (COOP/COEP, so
``performance.now()`` has 5 µs resolution) from one local server, sending to a server on another
loopback origin: masivo_web to the Masivo emulator, the peers to ``sink.py``. Every request URL
is checked to be loopback. Per page: one first event, 6 flushes of 100 events (the first and
five in steady state), then ``blocks`` x 100 tracking calls made from JS (10,000 events), each
block one task whose duration is read from a Chromium trace, minus an empty block's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from common import (
    ISOLATED,
    PEERS,
    RESULTS,
    ROOT,
    VARIANTS,
    masivo_browser,
    playwright_settings,
    versions,
)
from cpython import cpython_enqueue, emulator_ingest
from measure import measure_page
from profiles import profiles
from report import render_chart, write_report
from sink import Sink

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pages per SDK (default 3)")
    parser.add_argument("--blocks", type=int, default=100, help="100-call blocks (default 100)")
    parser.add_argument(
        "--only", default="", help="run the SDKs whose name contains this; no report (profiling)"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: put the chosen SDKs' new runs into the last run's results, then "
        "rewrite BENCHMARKS.md (the others keep their figures)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="only rewrite BENCHMARKS.md from the last run's benchmarks/results.json",
    )
    parser.add_argument(
        "--profiles",
        action="store_true",
        help="measure the profiles again into the last run's results, then rewrite BENCHMARKS.md",
    )
    args = parser.parse_args()
    if args.profiles:
        raw = json.loads(RESULTS.read_text())
        with masivo_browser() as (browser, site, emulator):
            raw["profiles"] = profiles(browser, site, emulator)
        RESULTS.write_text(json.dumps(raw, indent=1) + "\n")
        args.report = True
    if args.report:
        raw = json.loads(RESULTS.read_text())
        write_report(
            raw["results"],
            raw["cpython"],
            raw["profiles"],
            raw["versions"],
            raw["runs"],
            raw["blocks"],
            raw["crashes"],
        )
        return 0
    if not (PEERS / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS, check=True)
    from playwright.sync_api import sync_playwright

    settings = playwright_settings()
    chosen = [variant for variant in VARIANTS if args.only in variant.name]
    results: dict[str, list[dict[str, Any]]] = {variant.name: [] for variant in chosen}
    crashes: list[str] = []
    with (
        EmulatorServer() as emulator,
        Sink() as sink,
        StaticServer(ROOT, headers=ISOLATED) as site,
    ):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**settings.launch_options())
            for run in range(args.runs):
                for variant in chosen:  # interleaved: a slow moment of the machine hits all
                    try:
                        figures = measure_page(
                            browser, variant, site, emulator, sink, args.blocks, settings
                        )
                    except Exception as exc:  # Chromium here sometimes loses a renderer
                        if "crashed" not in str(exc):
                            raise
                        print(f"run {run + 1} {variant.name}: the page crashed; once more")
                        crashes.append(f"{variant.name}, run {run + 1}")
                        figures = measure_page(
                            browser, variant, site, emulator, sink, args.blocks, settings
                        )
                    results[variant.name].append(figures)
                    say(f"run {run + 1} {variant.name}", figures)
            if args.only:
                browser.close()
                if args.merge:
                    raw = json.loads(RESULTS.read_text())
                    raw["results"].update(results)
                    RESULTS.write_text(json.dumps(raw, indent=1) + "\n")
                    # In a process of its own: the report runs asyncio, which Playwright's
                    # sync API (running here) does not allow.
                    subprocess.run([sys.executable, __file__, "--report"], check=True)
                    print("merged into benchmarks/results.json; rewrote BENCHMARKS.md")
                return 0
            profile_text = profiles(browser, site, emulator)
            render_chart(browser, results)
            browser.close()
        # Outside Playwright's sync API, whose event loop runs in this thread meanwhile.
        cpython = {
            "enqueue": cpython_enqueue(args.runs),
            "ingest": emulator_ingest(args.runs),
        }
    raw = {
        "results": results,
        "cpython": cpython,
        "profiles": profile_text,
        "versions": versions(),
        "runs": args.runs,
        "blocks": args.blocks,
        "crashes": crashes,
    }
    RESULTS.write_text(json.dumps(raw, indent=1) + "\n")
    print(
        f"CPython: {statistics.median(cpython['enqueue']):,.0f} events/s enqueued, "
        f"{statistics.median(cpython['ingest']):,.0f} events/s stored by the emulator"
    )
    write_report(results, cpython, profile_text, raw["versions"], args.runs, args.blocks, crashes)
    print("wrote BENCHMARKS.md, benchmarks/chart.png and benchmarks/results.json")
    return 0


def say(label: str, figures: dict[str, Any], out: Callable[[str], None] = print) -> None:
    shown = ", ".join(
        f"{key}={value:,.1f}" for key, value in figures.items() if isinstance(value, int | float)
    )
    out(f"{label}: {shown}")


if __name__ == "__main__":
    sys.exit(main())
