"""BENCHMARKS.md and the chart, from the runs' figures."""

from __future__ import annotations

import html
import platform
import statistics
from datetime import date
from typing import Any

import bfcache
import engines
from common import FLUSHES, MICROPYTHON, MICROPYTHON_GC, MICROPYTHON_MPY, PRECOMPILED, ROOT
from profiles import cpython_profiles

#: (key, title, unit, format, masivo target or None); lower is better for every one.
MEASURES: list[tuple[str, str, str, str, float | None]] = [
    ("per_call_median_us", "Cost per tracking call, median", "µs", "{:,.0f}", 50),
    ("per_call_p95_us", "Cost per tracking call, p95 of 100-call blocks", "µs", "{:,.0f}", 150),
    ("flush_first_ms", "Longest main-thread task, first 100-event flush", "ms", "{:,.1f}", 8),
    ("flush_steady_ms", "Longest main-thread task, 100-event flush, steady", "ms", "{:,.1f}", 3),
    ("requests_per_1000", "Requests per 1,000 events (preflights included)", "", "{:,.1f}", 11),
    ("kb_per_1000", "KB on the wire per 1,000 events (bodies + headers)", "KB", "{:,.1f}", None),
    (
        "first_ack_after_ready_ms",
        "First event acknowledged, after the SDK is ready",
        "ms",
        "{:,.0f}",
        300,
    ),
    (
        "first_ack_from_navigation_ms",
        "First event acknowledged, from navigation start",
        "ms",
        "{:,.0f}",
        None,
    ),
    ("sdk_bytes", "What the page downloads for the SDK (gzip)", "bytes", "{:,.0f}", 30_000),
]


def summarise(runs: list[dict[str, Any]], key: str) -> tuple[float, float, float]:
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def write_report(
    results: dict[str, list[dict[str, Any]]],
    cpython: dict[str, list[float]],
    profile_text: dict[str, str],
    found_versions: dict[str, str],
    runs: int,
    blocks: int,
    crashes: list[str],
) -> None:
    peers = [name for name in results if not name.startswith("masivo_web")]
    cpython_profile = cpython_profiles()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {date.today()} by `make bench` (`benchmarks/bench.py`, which rewrites this file "
        "and `benchmarks/chart.png`) on "
        f"{platform.machine()} with 2 cores: {found_versions['chromium']} headless, "
        f"Pyodide {found_versions['pyodide']}, posthog-js {found_versions['posthog-js']}, "
        f"@segment/analytics-next {found_versions['@segment/analytics-next']}, "
        f"CPython {platform.python_version()}. Each figure is the median of {runs} runs (fresh "
        "page, fresh storage) with the range in brackets; the ratio compares masivo_web with "
        "the best peer (below 1: masivo_web costs less).",
        "",
        "![chart](benchmarks/chart.png)",
        "",
        "## How it is measured",
        "",
        "- One page per SDK from one local server, cross-origin isolated (COOP/COEP: "
        "`performance.now()` at 5 µs), sending to another loopback origin: masivo_web to the "
        "Masivo emulator, the peers to a sink that answers their ingestion routes "
        "(`benchmarks/sink.py`). Every request URL of every page is checked to be loopback; every "
        "event is checked to have arrived.",
        "- masivo_web with its defaults: write-ahead storage and context on, batches of 100; in "
        "a Pyodide page (`loadPyodide`, the SDK's page archive unpacked into the working "
        "folder), the same with `compression='gzip'`, and as a PyScript page loads it "
        '(`<script type="py">` with the archive in `files`, as the README\'s snippet; the '
        "page's handlers call Python through proxies; PyScript's own files count as runtime), "
        "and in a Pyodide page again from the precompiled build (the modules compiled to "
        "bytecode by Pyodide's Python: the optional `cp314` archive, larger, imported without "
        'compiling). And in PyScript\'s MicroPython (`<script type="mpy">`, the same archive; '
        "again with the `.mpy` build). The two `wheel in packages` rows are the PyScript pages "
        "with the wheel in `packages` instead (what the snippet gave before the archive: "
        "micropip on Pyodide, PyScript's zip reader on MicroPython). MicroPython's calls are "
        "timed by the page's clock around each "
        "block, not by a trace, because tracing slows MicroPython's JS trampolines (every "
        "setjmp) about four times. "
        "posthog-js with its defaults (localStorage+cookie persistence, request batching, gzip) "
        "and again with `persistence: 'memory'`, its fastest; its headless-browser drop "
        "(`opt_out_useragent_filter`) and burst rate limit are off and autocapture, recordings, "
        "surveys and flags are off. @segment/analytics-next with inline settings (no CDN) and "
        "batching (100 events or 5 s).",
        f"- Workload per page: one first event; {FLUSHES} flushes of 100 events; then "
        f"{blocks} blocks of 100 ADD_TO_CART calls made from JS, each block one task (as one "
        "click handler's task would be). A block's cost is its task's duration in a Chromium "
        "trace (its calls and the microtasks they started: Segment's promise pipeline counts), "
        "minus an empty block's, per call. Work an SDK defers to later tasks (masivo_web's "
        "storage write and flush, posthog-js's timer) is not in it: it is in the flush "
        "figures. Between blocks the page's other tasks run, as in a page.",
        "- Longest task: from a Chromium trace (the page's main thread, `RunTask` events, wall "
        "clock, as Lighthouse reads long tasks), the longest task between the end of the 100th "
        "call's microtasks and the answer to the batch's request (persistence, serialisation, "
        "compression, the request, the answer, the SDK's timers).",
        "- First event: sent right after the SDK is ready by the quickest means each offers "
        "(masivo_web: awaiting the call, which sends at once; posthog-js: `send_instantly`; "
        'Segment has none: its batch timer, 5 s). "Ready" for masivo_web is the interpreter '
        "booted and the SDK unpacked (or installed), before `import masivo_web`.",
        "- Requests and bytes: every request the server received during the page's life "
        "(authorize, preflights, events), per 1,000 events received.",
        "- Download: the files the page fetched for the SDK, gzip -9 (archives and wheels as "
        "they are: compressed already). masivo_web also needs Pyodide, which the page loads "
        "first and which is far larger than any SDK: its size is in the last table, and its "
        "boot is in the time from navigation start to the first acknowledged event.",
        "- Pages whose renderer crashed and were measured again: "
        + ("; ".join(crashes) if crashes else "none")
        + ".",
        "",
    ]
    for key, title, unit, fmt, target in MEASURES:
        lines += [f"## {title}{f' ({unit})' if unit else ''}", ""]
        lines += ["| SDK | median | range | ratio to best peer |", "|---|---|---|---|"]
        best = min((summarise(results[p], key)[0] for p in peers), default=None)
        for name, runs_of in results.items():
            median, low, high = summarise(runs_of, key)
            ratio = f"{median / best:.2f}" if best and name.startswith("masivo_web") else ""
            lines.append(
                f"| {name} | {fmt.format(median)} | {fmt.format(low)} to {fmt.format(high)} "
                f"| {ratio} |"
            )
        if target is not None:
            median = summarise(results["masivo_web"], key)[0]
            verdict = "met" if median <= target else "**not met**"
            lines += ["", f"Target for masivo_web: ≤ {fmt.format(target)}: {verdict}."]
        lines.append("")
    import_rows = []
    for variant, label in (("masivo_web", "source archive"), (PRECOMPILED, "precompiled archive")):
        if variant in results:
            imports = [run["import_ms"] for run in results[variant]]
            median = statistics.median(imports)
            import_rows.append(
                f"| Pyodide: cold `import masivo_web`, {label}, ms | {median:.0f} | "
                f"{min(imports):.0f} to {max(imports):.0f} | ≤ 30 | "
                f"{'yes' if median <= 30 else '**no**'} |"
            )
    lines += micropython_section(results, peers)
    enqueue = cpython["enqueue"]
    ingest = cpython["ingest"]
    lines += [
        "## masivo_web alone",
        "",
        "| measure | median | range | target | met |",
        "|---|---|---|---|---|",
        *import_rows,
        f"| CPython: events/s enqueued by one process | {statistics.median(enqueue):,.0f} | "
        f"{min(enqueue):,.0f} to {max(enqueue):,.0f} | ≥ 100,000 | "
        f"{'yes' if statistics.median(enqueue) >= 100_000 else '**no**'} |",
        f"| CPython: events/s the emulator stores (its own process; SDK → loopback → SQLite, "
        "batches of 100) | "
        f"{statistics.median(ingest):,.0f} | {min(ingest):,.0f} to {max(ingest):,.0f} | "
        f"≥ 10,000 | {'yes' if statistics.median(ingest) >= 10_000 else '**no**'} |",
        f"| Full wheel (PyPI, with the emulator and tools), bytes | {full_wheel_bytes():,} | | | |",
        "| Pyodide itself, which the page downloads before masivo_web (gzip or as shipped), "
        f"bytes | {statistics.median(run['runtime_bytes'] for run in results['masivo_web']):,.0f} "
        "| | | |",
        "",
        "## Profiles (cProfile inside Chromium, top functions by own time)",
        "",
        "1,000 tracking calls from JS (cProfile itself slows each call several times):",
        "",
        "```",
        profile_text["calls"],
        "```",
        "",
        "Where the time of a 100-call block goes, call by call (µs; `performance.now()` around "
        'each call from JS, 40 blocks, each block one task as in the workload; "tight": the '
        "best of 5 loops of 1,000 calls in one task). The control is a Python function doing "
        "arithmetic only, called the same way:",
        "",
        "| called | tight loop | 1st of block | 2nd | median of the rest | mean of the rest "
        "| mean of all | calls over 300 µs, first of block left out |",
        "|---|---|---|---|---|---|---|---|",
        profile_text.get("call_positions", "| (not measured in this run) | | | | | | | |"),
        "",
        "One 100-event flush (steady state; the 100 calls that fill the batch included):",
        "",
        "```",
        profile_text["flush"],
        "```",
        "",
        "Pieces of the flush, ms per call (Python's `time.perf_counter` around them, 5 "
        "flushes; the write runs once per task that saved or settled events):",
        "",
        "| piece | median | max |",
        "|---|---|---|",
        profile_text["flush_parts"],
        "",
        "Cold `import masivo_web`:",
        "",
        "```",
        profile_text["import"],
        "```",
        "",
        "CPython: 9,000 enqueues (cProfile, measured when this report was written):",
        "",
        "```",
        cpython_profile["cpython_enqueue"],
        "```",
        "",
        "The emulator's work per event of a 100-event batch (µs; per request it also checks the "
        "token, routes, logs and answers):",
        "",
        "| step | µs per event |",
        "|---|---|",
        cpython_profile["emulator_per_event"],
        "",
    ]
    notes = ROOT / "benchmarks" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    # The engines' figures and the back-forward cache's, kept as their own runs wrote them.
    lines += engines.kept_section() + bfcache.kept_section()
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


def micropython_section(results: dict[str, list[dict[str, Any]]], peers: list[str]) -> list[str]:
    """The MicroPython page against its targets (the MicroPython issue's): first event, per
    call, import, download."""
    variants = [name for name in (MICROPYTHON, MICROPYTHON_MPY, MICROPYTHON_GC) if name in results]
    if not variants:
        return []
    pyodide_page = "masivo_web, PyScript"

    def median(name: str, key: str) -> float:
        return summarise(results[name], key)[0]

    def row(label: str, values: list[float], target: str, met: bool) -> str:
        shown = ", ".join(f"{value:,.2f}" if value < 10 else f"{value:,.0f}" for value in values)
        return f"| {label} | {shown} | {target} | {'yes' if met else '**no**'} |"

    best_peer = min((median(peer, "first_ack_from_navigation_ms") for peer in peers), default=0)
    first = [median(name, "first_ack_from_navigation_ms") for name in variants]
    rows = []
    if pyodide_page in results:
        ratio = [value / median(pyodide_page, "first_ack_from_navigation_ms") for value in first]
        rows.append(
            row(
                "First event acknowledged from navigation, ratio to the Pyodide PyScript page",
                ratio,
                "≤ 0.35",
                ratio[0] <= 0.35,
            )
        )
    if best_peer:
        ratio = [value / best_peer for value in first]
        rows.append(
            row(
                "First event acknowledged from navigation, ratio to the best peer",
                ratio,
                "≤ 3",
                ratio[0] <= 3,
            )
        )
    per_call = [median(name, "per_call_median_us") for name in variants]
    rows.append(
        row("Cost per tracking call from JS, median, µs", per_call, "≤ 150", per_call[0] <= 150)
    )
    imports = [median(name, "import_ms") for name in variants]
    rows.append(row("Cold `import masivo_web`, ms", imports, "≤ 50", imports[0] <= 50))
    download = [median(name, "sdk_bytes") for name in variants]
    rows.append(
        row(
            "What the page downloads for the SDK, bytes",
            download,
            "≤ 30,000",
            download[0] <= 30_000,
        )
    )
    runtime = median(variants[0], "runtime_bytes")
    return [
        '## MicroPython (`<script type="mpy">`)',
        "",
        f"Values for {', '.join(variants)}, in that order (medians of the runs above); "
        "met or not is said of the first (the default page: source archive, PyScript's GC "
        "settings). "
        f"MicroPython and PyScript download {runtime:,.0f} bytes (gzip or as shipped) before "
        "the SDK.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def full_wheel_bytes() -> int:
    wheel = next((ROOT / "dist").glob("masivo_web-*.whl"), None)
    return wheel.stat().st_size if wheel else 0


CHART_PANELS = [
    ("per_call_median_us", "µs per tracking call (median)"),
    ("flush_steady_ms", "ms longest task, 100-event flush (steady)"),
    ("kb_per_1000", "KB on the wire per 1,000 events"),
    ("sdk_bytes", "bytes downloaded for the SDK (gzip)"),
]


def chart_html(results: dict[str, list[dict[str, Any]]]) -> str:
    """Horizontal bars, one panel per measure, drawn as SVG (no plotting library needed)."""
    panels = []
    colours = ["#1b7f5b", "#5fb58f", "#d9822b", "#f2b36b", "#5470c6"]
    for key, title in CHART_PANELS:
        values = [(name, summarise(runs, key)[0]) for name, runs in results.items()]
        top = max(value for _, value in values) or 1
        rows = []
        for index, (name, value) in enumerate(values):
            width = max(1.0, 300 * value / top)
            y = 28 + index * 26
            rows.append(
                f'<text x="0" y="{y + 14}" font-size="12">{html.escape(name)}</text>'
                f'<rect x="210" y="{y}" width="{width:.1f}" height="18" '
                f'fill="{colours[index % len(colours)]}"/>'
                f'<text x="{215 + width:.1f}" y="{y + 14}" font-size="12">{value:,.1f}</text>'
            )
        height = 40 + 26 * len(values)
        panels.append(
            f'<svg width="600" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<text x="0" y="16" font-size="14" font-weight="bold">{html.escape(title)}</text>'
            + "".join(rows)
            + "</svg>"
        )
    return (
        "<!doctype html><html><body style='font-family:sans-serif;margin:16px;width:1240px'>"
        "<h3 style='margin:0 0 8px'>masivo_web vs posthog-js and @segment/analytics-next "
        "(lower is better)</h3>"
        "<div style='display:grid;grid-template-columns:620px 620px'>"
        + "".join(f"<div>{panel}</div>" for panel in panels)
        + "</div></body></html>"
    )


def render_chart(browser: Any, results: dict[str, list[dict[str, Any]]]) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 420})
    page.set_content(chart_html(results))
    page.screenshot(path=str(ROOT / "benchmarks" / "chart.png"), full_page=True)
    page.close()


# -- main -------------------------------------------------------------------------------------
