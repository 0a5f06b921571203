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
import asyncio
import contextlib
import functools
import gzip
import html
import importlib.util
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sink import Sink  # noqa: E402

from masivo_web import create_client  # noqa: E402
from masivo_web.emulator import EmulatorServer  # noqa: E402
from masivo_web.emulator.static import StaticServer  # noqa: E402

ISOLATED = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
PEERS = ROOT / "benchmarks" / "peers"
#: Every figure of the last run, so the report can be rewritten without measuring again.
RESULTS = ROOT / "benchmarks" / "results.json"
FLUSHES = 6  # the first flush, then five in steady state
EVENT = {
    "type": "ADD_TO_CART",
    "customer_id": "c-1",
    "brand_id": None,
    "product": {"sku": "SKU-1", "amount": 1, "value": 9.99},
}
#: Chromium trace categories with main-thread tasks (RunTask) and User Timing marks.
TRACE_CATEGORIES = ["toplevel", "blink.user_timing", "disabled-by-default-devtools.timeline"]


class Variant:
    """One SDK configuration: its page and query."""

    def __init__(self, name: str, page: str, query: dict[str, str], masivo: bool = False) -> None:
        self.name, self.page, self.query, self.masivo = name, page, query, masivo


PRECOMPILED = "masivo_web, precompiled"
VARIANTS = [
    Variant("masivo_web", "masivo.html", {}, masivo=True),
    Variant("masivo_web, gzip", "masivo.html", {"compression": "gzip"}, masivo=True),
    Variant("masivo_web, PyScript", "masivo-pyscript.html", {}, masivo=True),
    Variant(PRECOMPILED, "masivo.html", {"wheel": "precompiled"}, masivo=True),
    Variant("posthog-js", "posthog.html", {}),
    Variant("posthog-js, memory persistence", "posthog.html", {"persistence": "memory"}),
    Variant("@segment/analytics-next", "segment.html", {}),
]


def versions() -> dict[str, str]:
    found = {}
    for package in ("posthog-js", "@segment/analytics-next"):
        manifest = PEERS / "node_modules" / package / "package.json"
        found[package] = json.loads(manifest.read_text())["version"]
    pyodide = ROOT / "node_modules" / "pyodide" / "package.json"
    found["pyodide"] = json.loads(pyodide.read_text())["version"]
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True)
    found["chromium"] = chromium.stdout.strip()
    return found


def playwright_settings() -> Any:
    spec = importlib.util.spec_from_file_location("pw", ROOT / "playwright.config.py")
    assert spec is not None
    assert spec.loader is not None
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    return settings


@contextlib.contextmanager
def masivo_browser() -> Iterator[tuple[Any, StaticServer, EmulatorServer]]:
    """Chromium, the pages' server and the emulator, for passes on masivo_web's page alone
    (``--profiles``, ``probes.py``)."""
    from playwright.sync_api import sync_playwright

    with (
        EmulatorServer() as emulator,
        StaticServer(ROOT, headers=ISOLATED) as site,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(**playwright_settings().launch_options())
        try:
            yield browser, site, emulator
        finally:
            browser.close()


def masivo_page_url(site: StaticServer, emulator: EmulatorServer, **extra: str) -> str:
    """masivo_web's bench page, pointed at ``emulator``."""
    query = {"key": emulator.client_key, "auth": emulator.auth_url, "api": emulator.api_base}
    return f"{site.url}/benchmarks/pages/masivo.html?{urlencode({**query, **extra})}"


# -- one page ---------------------------------------------------------------------------------


def measure_page(
    browser: Any,
    variant: Variant,
    site: StaticServer,
    emulator: EmulatorServer,
    sink: Sink,
    blocks: int,
    settings: Any,
) -> dict[str, Any]:
    """Run the workload once on a fresh page (own storage) and return its figures."""
    if variant.masivo:
        emulator.control.reset()
        query = {"key": emulator.client_key, "auth": emulator.auth_url, "api": emulator.api_base}
    else:
        sink.reset()
        query = {"sink": sink.url}
    query.update(variant.query)
    allowed = (site.url, emulator.url, sink.url)
    outside: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(settings.PYODIDE_READY_TIMEOUT_MS)

    def check(request: Any) -> None:
        if not request.url.startswith(allowed) and not request.url.startswith(("data:", "blob:")):
            outside.append(request.url)

    page.on("request", check)
    page.goto(f"{site.url}/benchmarks/pages/{variant.page}?{urlencode(query)}")
    ready = page.evaluate("bench.ready()")
    if not ready["isolated"]:
        raise RuntimeError("the page is not cross-origin isolated: timings would be coarse")
    first = page.evaluate("bench.firstEvent()")
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    labels = [f"flush{number}" for number in range(FLUSHES)]
    for label in labels:
        page.evaluate("(label) => bench.flushBlock(100, label)", label)
    flushes = longest_tasks(browser.stop_tracing(), labels)
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    page.evaluate("(blocks) => bench.calls(blocks, 100, 'calls')", blocks)
    blocks_us = marked_tasks(browser.stop_tracing(), "calls:")
    expected = 1 + FLUSHES * 100 + blocks * 100
    log = wait_for_events(variant, emulator, sink, expected)
    files = page.evaluate("bench.fetched('files')")
    runtime = page.evaluate("bench.fetched('runtime')")
    context.close()
    if outside:
        raise RuntimeError(f"{variant.name} made requests beyond loopback: {outside[:3]}")

    base = statistics.median(v for k, v in blocks_us.items() if ":empty:" in k)
    per_call = sorted(
        max(0.0, (v - base) / 100) for k, v in blocks_us.items() if ":empty:" not in k
    )
    if len(per_call) != blocks:
        raise RuntimeError(f"{variant.name}: {len(per_call)} of {blocks} blocks in the trace")
    received = sum(entry["events"] or 0 for entry in log)
    per_1000 = 1000 / received
    return {
        "per_call_median_us": statistics.median(per_call),
        "per_call_p95_us": per_call[max(0, round(len(per_call) * 0.95) - 1)],
        "flush_first_ms": flushes[0],
        "flush_steady_ms": statistics.median(flushes[1:]),
        "requests_per_1000": len(log) * per_1000,
        "preflights": sum(1 for entry in log if entry["method"] == "OPTIONS"),
        "requests": len(log),
        "events": received,
        "kb_per_1000": sum(e["body_bytes"] + e["header_bytes"] for e in log) * per_1000 / 1000,
        "first_ack_from_navigation_ms": first["ackAt"],
        "first_ack_after_ready_ms": first["ackAt"] - ready["readyAt"],
        "ready_ms": ready["readyAt"],
        "import_ms": ready["importMs"],
        "sdk_bytes": sdk_download_bytes(files),
        "runtime_bytes": sdk_download_bytes(runtime),
    }


def trace_events(trace: bytes) -> list[dict[str, Any]]:
    loaded = json.loads(trace)
    events: list[dict[str, Any]] = loaded["traceEvents"] if isinstance(loaded, dict) else loaded
    return events


def main_thread_tasks(events: list[dict[str, Any]], thread: tuple[int, int]) -> list[Any]:
    """(start, end) in µs of every task run on ``thread`` (pid, tid), by start."""
    return sorted(
        (event["ts"], event["ts"] + event["dur"])
        for event in events
        if event.get("name") == "RunTask"
        and event.get("ph") == "X"
        and (event["pid"], event["tid"]) == thread
    )


def longest_tasks(trace: bytes, labels: list[str]) -> list[float]:
    """For each label, the longest main-thread task (ms, wall clock) overlapping the window the
    page marked ``<label>:start`` to ``<label>:end``: what Lighthouse calls a long task."""
    events = trace_events(trace)
    marks = {e["name"]: e for e in events if e.get("cat") == "blink.user_timing"}
    longest = []
    for label in labels:
        start, end = marks[f"{label}:start"], marks[f"{label}:end"]
        tasks = main_thread_tasks(events, (start["pid"], start["tid"]))  # the page's thread
        durations = [b - a for a, b in tasks if b > start["ts"] and a < end["ts"]]
        longest.append(max(durations, default=0) / 1000)
    return longest


def marked_tasks(trace: bytes, prefix: str) -> dict[str, float]:
    """For each User Timing mark starting with ``prefix``, the duration (µs, wall clock) of the
    main-thread task it was made in: the task's JS, the microtasks it started, and Pyodide."""
    events = trace_events(trace)
    marks = [
        e for e in events if e.get("cat") == "blink.user_timing" and e["name"].startswith(prefix)
    ]
    if not marks:
        return {}
    tasks = main_thread_tasks(events, (marks[0]["pid"], marks[0]["tid"]))
    found = {}
    for mark in marks:
        around = [end - start for start, end in tasks if start <= mark["ts"] <= end]
        if around:
            found[mark["name"]] = float(min(around))  # the innermost task
    return found


def wait_for_events(
    variant: Variant, emulator: EmulatorServer, sink: Sink, expected: int, timeout_s: float = 90
) -> list[dict[str, Any]]:
    """Every request the server saw once all ``expected`` events arrived (none may be lost)."""
    deadline = time.monotonic() + timeout_s
    while True:
        log = emulator.control.requests() if variant.masivo else sink.snapshot()
        received = sum(entry["events"] or 0 for entry in log)
        if variant.masivo:
            received = emulator.control.stats()["stored"]  # retried batches count once
        if received >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if variant.masivo:
        stored = emulator.control.stats()["stored"]
        if stored != expected:
            statuses = [(entry["method"], entry["status"], entry["events"]) for entry in log]
            raise RuntimeError(f"masivo_web: {stored} of {expected} events stored: {statuses}")
    elif received != expected:
        raise RuntimeError(f"{variant.name}: {received} of {expected} events received")
    return log


def sdk_download_bytes(paths: list[str]) -> int:
    """What the page downloads for the SDK, gzip -9 (our wheel is a zip already: as is)."""
    return sum(_download_bytes(path) for path in paths)


@functools.cache
def _download_bytes(path: str) -> int:
    data = (ROOT / path.lstrip("/")).read_bytes()
    compressed = path.endswith((".whl", ".zip"))  # archives: already compressed, counted as is
    return len(data) if compressed else len(gzip.compress(data, 9))


# -- profiles of masivo_web in the page -------------------------------------------------------

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
from masivo_web.runtime import current_page
from masivo_web.storage import FallbackStorage, LocalStorage
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


def cpython_enqueue(runs: int) -> list[float]:
    """Events per second one process enqueues (validate, id, timestamp, context, queue)."""
    from masivo_web.transports import MockTransport, Response

    def answer(request: Any) -> Response:
        return Response(200, body=b'{"data": "token"}')

    async def run() -> float:
        client = create_client("k", transport=MockTransport(answer))
        count = 9_000  # under the memory bound: nothing is sent while this loop runs
        started = time.perf_counter()
        for _ in range(count):
            client.send_analytics_event(EVENT)
        elapsed = time.perf_counter() - started
        client.opt_out()  # drops the queue quietly: nothing is sent, nothing logged
        client.destroy()
        return count / elapsed

    return [asyncio.run(run()) for _ in range(runs)]


def emulator_ingest(runs: int) -> list[float]:
    """Events per second the emulator stores, run as it is deployed (``python -m masivo_web
    emulator``, a process of its own: not sharing a GIL with the sender), sent by the SDK in
    batches of 100. Timed from ``flush()`` to the last acknowledgement: the enqueueing before
    it is measured apart (``cpython_enqueue``)."""
    from masivo_web.emulator.client import EmulatorClient
    from masivo_web.emulator.store import DEFAULT_CLIENT_KEY

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "masivo_web", "emulator", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--rate-limit", "100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    control = EmulatorClient(url)

    async def run() -> float:
        control.reset()
        client = create_client(DEFAULT_CLIENT_KEY, auth_url=f"{url}/auth/authorize", api_base=url)
        await client.get_token()
        count = 10_000
        for _ in range(count):
            client.send_analytics_event(EVENT)
        started = time.perf_counter()
        await client.flush()
        elapsed = time.perf_counter() - started
        client.destroy()
        assert control.stats()["stored"] == count
        return count / elapsed

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                control.stats()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the emulator did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        return [asyncio.run(run()) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=10)


def cpython_profiles() -> dict[str, str]:
    """cProfile of 9,000 enqueues under CPython, and what the emulator spends per event."""
    import cProfile
    import io
    import pstats
    import uuid

    from masivo_web.emulator.store import EmulatorState
    from masivo_web.emulator.validation import check_event, encode_event
    from masivo_web.transports import MockTransport, Response

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
        "a Pyodide page (`loadPyodide`, micropip), the same with `compression='gzip'`, and as "
        'a PyScript page loads it (`<script type="py">` with the wheel in `packages`; the '
        "page's handlers call Python through proxies; PyScript's own files count as runtime), "
        "and in a Pyodide page again from the precompiled wheel (the modules compiled to "
        "bytecode by Pyodide's Python: the optional `cp314` wheel, larger, imported without "
        "compiling). "
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
        'Segment has none: its batch timer, 5 s). "Ready" for masivo_web is Pyodide booted '
        "and the wheel installed, before `import masivo_web`.",
        "- Requests and bytes: every request the server received during the page's life "
        "(authorize, preflights, events), per 1,000 events received.",
        "- Download: the files the page fetched for the SDK, gzip -9 (the wheel as is: it is "
        "a zip). masivo_web also needs Pyodide, which the page loads first and which is far "
        "larger than any SDK: its size is in the last table, and its boot is in the time from "
        "navigation start to the first acknowledged event.",
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
    for variant, label in (("masivo_web", "source wheel"), (PRECOMPILED, "precompiled wheel")):
        if variant in results:
            imports = [run["import_ms"] for run in results[variant]]
            median = statistics.median(imports)
            import_rows.append(
                f"| Pyodide: cold `import masivo_web`, {label}, ms | {median:.0f} | "
                f"{min(imports):.0f} to {max(imports):.0f} | ≤ 30 | "
                f"{'yes' if median <= 30 else '**no**'} |"
            )
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
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pages per SDK (default 3)")
    parser.add_argument("--blocks", type=int, default=100, help="100-call blocks (default 100)")
    parser.add_argument(
        "--only", default="", help="run the SDKs whose name contains this; no report (profiling)"
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
