"""Back-forward cache restores per 10 first back navigations, in the three engines (Chromium
with its cache on, as visitors have it: Playwright turns it off by default): a fresh page with
a masivo_web client that has sent an event follows a link and goes back, as a visitor does; a
restore is the same page coming back alive. Beside it, in the same run, the same page that also
holds a Web Lock for its life, as masivo_web's client did before it held one only while hidden
(a page holding a lock is never cached in Firefox). Rewrites the "Back-forward cache" section of
BENCHMARKS.md (kept by ``bench.py``) and ``bfcache.json``.

    python benchmarks/bfcache.py [navigations]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import rewrite_section

from masivo_web.devtools import browser_settings
from masivo_web.devtools.engines import open_engine
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer

RESULTS = Path(__file__).with_name("bfcache.json")
START, END = "<!-- bfcache: start -->", "<!-- bfcache: end -->"
ENGINES = ("chromium", "firefox", "webkit")
#: What the page's client did before: a Web Lock held for the page's life.
HOLD_A_LOCK = "() => { navigator.locks.request('held-for-life', () => new Promise(() => {})); }"


def restored(browser: Any, site: str, emulator: EmulatorServer, hold_a_lock: bool) -> bool:
    """One fresh page: whether its first back navigation restored it from the cache."""
    settings = browser_settings.load()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(settings.ACTION_TIMEOUT_MS)
        page.goto(f"{site}/test/harness.html")
        page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        client = (
            "from masivo_web import create_client\n"
            f"masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r},"
            f" api_base={emulator.api_base!r})\n"
            "masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c', brand_id=None)\n"
            "await masivo.flush()\n"
        )
        page.evaluate("code => runPython(code)", client)
        if hold_a_lock:
            page.evaluate(HOLD_A_LOCK)
        elsewhere = f"{site}/test/elsewhere.html"
        page.evaluate(
            "url => { window.__cached = 1; setTimeout(() => { location.href = url; }, 0); }",
            elsewhere,
        )
        page.wait_for_url(elsewhere)
        time.sleep(1)
        page.evaluate("() => { setTimeout(() => history.back(), 0); }")
        time.sleep(1.5)
        page.wait_for_function("document.readyState === 'complete' && !!document.body")
        return bool(page.evaluate("() => window.__cached === 1"))
    finally:
        context.close()


@contextmanager
def caching_engine(playwright: Any, engine: str) -> Iterator[Any]:
    """The engine's browser with its back-forward cache on."""
    if engine != "chromium":
        with open_engine(playwright, engine) as browser:
            yield browser
        return
    options = browser_settings.load().launch_options()
    browser = playwright.chromium.launch(
        **options, ignore_default_args=["--disable-back-forward-cache"]
    )
    try:
        yield browser
    finally:
        browser.close()


def run(navigations: int) -> dict[str, dict[str, int]]:
    from playwright.sync_api import sync_playwright

    settings = browser_settings.load()
    results: dict[str, dict[str, int]] = {}
    with (
        EmulatorServer() as emulator,
        StaticServer(settings.STATIC_DIR) as site,
        sync_playwright() as playwright,
    ):
        for engine in ENGINES:
            with caching_engine(playwright, engine) as browser:
                results[engine] = {
                    variant: sum(
                        restored(browser, site.url, emulator, variant == "lock held for life")
                        for _ in range(navigations)
                    )
                    for variant in ("masivo_web", "lock held for life")
                }
                print(engine, results[engine], flush=True)
    return results


def section(results: dict[str, dict[str, int]], navigations: int) -> list[str]:
    lines = [
        START,
        "## Back-forward cache",
        "",
        f"`benchmarks/bfcache.py` (run by `make bench`): of {navigations} fresh pages, each with a "
        "client that has sent an event, how many came back from the cache on their first back "
        "navigation; beside it, the same page also holding a Web Lock for its life (what the "
        "client did before: a page holding a lock is never cached in Firefox). Chromium with its "
        "cache on, as visitors have it (Playwright turns it off by default).",
        "",
        "| engine | masivo_web | with a lock held for the page's life |",
        "|---|---|---|",
    ]
    for engine, counts in results.items():
        lines.append(
            f"| {engine} | {counts['masivo_web']} of {navigations} "
            f"| {counts['lock held for life']} of {navigations} |"
        )
    return [*lines, END]


def write(results: dict[str, dict[str, int]], navigations: int) -> None:
    RESULTS.write_text(json.dumps({"navigations": navigations, "results": results}) + "\n")
    rewrite_section(START, END, section(results, navigations))


def kept_section() -> list[str]:
    """The section from the last run, for bench.py's rewrite of BENCHMARKS.md."""
    if not RESULTS.exists():
        return []
    saved = json.loads(RESULTS.read_text())
    return ["", *section(saved["results"], saved["navigations"])]


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    write(run(count), count)
