"""masivo_web's own figures, measured on this machine and written to BENCHMARKS.md.

    .venv/bin/python benchmarks/bench.py        # or: make bench

A first slice of the benchmark issue: masivo_web alone (the peers, posthog-js and
@segment/analytics-next in the same Chromium, are not measured yet). Each figure is the median
of several runs with the spread; targets are the issue's.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from masivo_web import create_client  # noqa: E402
from masivo_web.emulator import EmulatorServer  # noqa: E402
from masivo_web.emulator.static import StaticServer  # noqa: E402
from masivo_web.transports import MockTransport, Response  # noqa: E402

EVENT = {
    "type": "ADD_TO_CART",
    "customer_id": "c-1",
    "brand_id": None,
    "product": {"sku": "SKU-1", "amount": 1, "value": 9.99},
}
RUNS = 5


def median_spread(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def cpython_enqueue() -> list[float]:
    """Events per second one process enqueues (validate, id, timestamp, context, queue)."""

    def answer(request: Any) -> Response:
        return Response(200, body=b'{"data": "token"}')

    async def run() -> float:
        client = create_client("k", transport=MockTransport(answer))
        count = 9000
        started = time.perf_counter()
        for _ in range(count):
            client.send_analytics_event(EVENT)
        elapsed = time.perf_counter() - started
        client._dispatcher.discard("benchmark over")
        client.destroy()
        return count / elapsed

    return [asyncio.run(run()) for _ in range(RUNS)]


def emulator_ingest(emulator: EmulatorServer) -> list[float]:
    """Events per second stored by the emulator, sent by the SDK in batches of 100."""

    async def run() -> float:
        emulator.control.reset()
        client = create_client(
            emulator.client_key, auth_url=emulator.auth_url, api_base=emulator.api_base
        )
        await client.get_token()
        count = 10_000
        started = time.perf_counter()
        for _ in range(count):
            client.send_analytics_event(EVENT)
        await client.flush()
        elapsed = time.perf_counter() - started
        client.destroy()
        assert emulator.control.stats()["stored"] == count
        return count / elapsed

    return [asyncio.run(run()) for _ in range(RUNS)]


def wheel_sizes() -> tuple[int, int]:
    wheel = next((ROOT / "static" / "vendor" / "wheels").glob("masivo_web-*.whl"))
    data = wheel.read_bytes()
    return len(data), len(gzip.compress(data, 9))


PAGE_SCRIPT = """
async ({code, calls}) => {
  const timings = {};
  const started = performance.now();
  await runPython("import time\\n_t = time.perf_counter()\\nimport masivo_web\\n"
                  + "_import_ms = (time.perf_counter() - _t) * 1000");
  timings.import_ms = pyodide.globals.get("_import_ms");
  await runPython(code);
  const t1 = performance.now();
  await runPython("_r = await masivo.send_analytics_event(type='ADD_TO_CART', brand_id=None)");
  timings.first_ack_ms = performance.now() - t1;
  const send = pyodide.globals.get("send");
  send(); send();  // warm
  const blocks = [];
  for (let b = 0; b < calls / 100; b++) {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) send();
    blocks.push((performance.now() - t0) * 10);  // µs per call in this block
  }
  const empty = pyodide.globals.get("noop");
  const base = [];
  for (let b = 0; b < 10; b++) {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) empty();
    base.push((performance.now() - t0) * 10);
  }
  timings.blocks = blocks; timings.baseline = base;
  await runPython("await masivo.flush()");
  return timings;
}
"""


def in_chromium(emulator: EmulatorServer) -> dict[str, Any]:
    """Per-call cost from a JS handler, cold import, first acknowledgement, requests."""
    from playwright.sync_api import sync_playwright

    spec = importlib.util.spec_from_file_location("pw", ROOT / "playwright.config.py")
    assert spec is not None
    assert spec.loader is not None
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    emulator.control.reset()
    code = (
        "from masivo_web import create_client\n"
        f"masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
        f"api_base={emulator.api_base!r})\n"
        "await masivo.get_token()\n"
        "def send():\n"
        "    masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c-1', brand_id=None, "
        "product={'sku': 'SKU-1', 'amount': 1, 'value': 9.99})\n"
        "def noop():\n    pass\n"
    )
    with StaticServer(ROOT / "static") as pages, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**settings.launch_options())
        page = browser.new_page()
        page.goto(f"{pages.url}/test/harness.html")
        page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        timings = page.evaluate(PAGE_SCRIPT, {"code": code, "calls": 1000})
        browser.close()
    requests = emulator.control.requests()
    timings["posts"] = sum(1 for r in requests if r["route"] == "analytics")
    timings["preflights"] = sum(1 for r in requests if r["method"] == "OPTIONS")
    timings["events"] = emulator.control.stats()["stored"]
    return timings


def main() -> int:
    with EmulatorServer() as emulator:
        enqueue = median_spread(cpython_enqueue())
        ingest = median_spread(emulator_ingest(emulator))
        page = in_chromium(emulator)
    wheel, wheel_gz = wheel_sizes()
    base = statistics.median(page["baseline"])
    per_call = sorted(max(0.0, block - base) for block in page["blocks"])
    p50 = statistics.median(per_call)
    p95 = per_call[int(len(per_call) * 0.95) - 1]
    per_1000 = 1000 / max(1, page["events"])
    rows = [
        (
            "CPython: events/s enqueued by one process",
            f"{enqueue[0]:,.0f} ({enqueue[1]:,.0f} to {enqueue[2]:,.0f})",
            "≥ 100,000",
            enqueue[0] >= 100_000,
        ),
        (
            "CPython: events/s the emulator ingests (SDK → loopback → SQLite)",
            f"{ingest[0]:,.0f} ({ingest[1]:,.0f} to {ingest[2]:,.0f})",
            "≥ 10,000",
            ingest[0] >= 10_000,
        ),
        (
            "Pyodide: µs per call from a JS loop, median (100-call blocks minus empty call)",
            f"{p50:.0f}",
            "≤ 50",
            p50 <= 50,
        ),
        ("Pyodide: µs per call, p95 of blocks", f"{p95:.0f}", "≤ 150", p95 <= 150),
        (
            "Pyodide: cold `import masivo_web`, ms",
            f"{page['import_ms']:.0f}",
            "≤ 30",
            page["import_ms"] <= 30,
        ),
        ("Wheel size, bytes (gzip -9)", f"{wheel:,} ({wheel_gz:,})", "≤ 30 KB", wheel <= 30_000),
        (
            "Requests per 1,000 events (POST + preflight)",
            f"{(page['posts'] + page['preflights']) * per_1000:.1f} "
            f"({page['posts']} POST, {page['preflights']} OPTIONS, {page['events']} events)",
            "≤ 10 + 1",
            (page["posts"] + page["preflights"]) * per_1000 <= 11,
        ),
        (
            "First event acknowledged, ms from the call (token cached, empty queue)",
            f"{page['first_ack_ms']:.0f}",
            "≤ 300 after ready",
            page["first_ack_ms"] <= 300,
        ),
    ]
    write_report(rows)
    for name, figure, target, ok in rows:
        print(f"{'ok ' if ok else 'MISS'} {name}: {figure} (target {target})")
    return 0


def write_report(rows: list[tuple[str, str, str, bool]]) -> None:
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True)
    lines = [
        "# Benchmarks",
        "",
        f"Measured {date.today()} with `make bench` (`benchmarks/bench.py`) on "
        f"{platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{chromium.stdout.strip() or 'Chromium'}, Pyodide 314.0.7; medians of {RUNS} runs "
        "with the range in brackets where several runs are taken.",
        "",
        "**Status: a first slice.** masivo_web's own figures only; the side-by-side runs of "
        "posthog-js and @segment/analytics-next in the same browser, the flush's main-thread "
        "block, bytes on the wire with and without gzip, and the chart are not done yet.",
        "",
        "| measure | masivo_web | target | met |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {figure} | {target} | {'yes' if ok else '**no**'} |"
        for name, figure, target, ok in rows
    ]
    lines += [
        "",
        "## What bounds the misses (from profiles)",
        "",
        "- CPython enqueue (`python -m cProfile` on 5,000 calls): `json.dumps` of the event "
        "(~17 µs), the non-recursive nesting check that keeps Pyodide from a fatal stack overflow "
        "(~15 µs), field validation (~14 µs), id and timestamp (~10 µs). Reaching 10 µs means "
        "validating and serialising in one pass.",
        "- Pyodide per call (cProfile inside the page, 300 calls, before the fixes of "
        "2026-11-23 that took the median from ~545 to ~400 µs): ABC `isinstance` checks on "
        "every value (now skipped for plain types), a `localStorage.getItem` per event for "
        "the opt-out flag (now cached), five JS property reads for the page context (now "
        "one). What remains: the write-ahead `localStorage.setItem` (~85 µs per event through "
        "the JS bridge: a write-behind buffer flushed on the next tick and at page hide would "
        "remove it from the call), and validation plus serialisation running ~8x slower in "
        "Pyodide than in CPython (the CPython bound above).",
        "- Cold import: not profiled yet; the import pulls `asyncio`, `json`, `datetime`, "
        "`urllib.parse` and `reprlib`, which Pyodide loads without .pyc.",
        "- Wheel size: the wheel also carries the emulator, the reliability harness and the demo "
        "driver (server-side tools). A browser-only wheel without `masivo_web/emulator` is the "
        "way to the 30 KB target.",
        "",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
