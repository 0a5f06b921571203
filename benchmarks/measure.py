"""One page's figures: the workload driven in Chromium, read from a trace and the servers."""

from __future__ import annotations

import functools
import gzip
import json
import statistics
import time
from typing import Any
from urllib.parse import urlencode

from common import FLUSHES, ROOT, TRACE_CATEGORIES, Variant
from sink import Sink

from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer


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
    if variant.clock_timed:
        timed = page.evaluate("(blocks) => bench.timedCalls(blocks, 100)", blocks)
        blocks_us = {f"calls:{n}": value for n, value in enumerate(timed)}
        blocks_us.update({f"calls:empty:{n}": 0.0 for n in range(20)})
    else:
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
    """What the page downloads for the SDK, gzip -9 (our archives are compressed: as they are)."""
    return sum(_download_bytes(path) for path in paths)


@functools.cache
def _download_bytes(path: str) -> int:
    data = (ROOT / path.lstrip("/")).read_bytes()
    compressed = path.endswith((".whl", ".zip", ".gz"))  # archives: compressed, counted as is
    return len(data) if compressed else len(gzip.compress(data, 9))


# -- profiles of masivo_web in the page -------------------------------------------------------
