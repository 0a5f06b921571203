"""What every benchmark shares: paths, the workload's event, the variants, Chromium, the site
and the emulator."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


from masivo_web.devtools import browser_settings  # noqa: E402
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

    def __init__(
        self,
        name: str,
        page: str,
        query: dict[str, str],
        masivo: bool = False,
        clock_timed: bool = False,
    ) -> None:
        self.name, self.page, self.query, self.masivo = name, page, query, masivo
        #: Calls timed by the page's clock, not a trace (MicroPython: see driver.js).
        self.clock_timed = clock_timed


#: One page for PyScript on either interpreter (``type=mpy``: MicroPython).
PYSCRIPT_PAGE = "masivo-pyscript.html"
PRECOMPILED = "masivo_web, precompiled"
MICROPYTHON = "masivo_web, MicroPython"
MICROPYTHON_MPY = "masivo_web, MicroPython .mpy"
#: The same pages with the SDK's wheel in PyScript's ``packages`` instead of its archive in
#: ``files`` (what the README's snippet gave before): the cost of installing a wheel.
PYSCRIPT_PACKAGES = "masivo_web, PyScript, wheel in packages"
MICROPYTHON_PACKAGES = "masivo_web, MicroPython, wheel in packages"
#: The same page after ``gc.threshold(1 MiB)``: see docs/runtimes.md.
MICROPYTHON_GC = "masivo_web, MicroPython, gc.threshold 1 MiB"
VARIANTS = [
    Variant("masivo_web", "masivo.html", {}, masivo=True),
    Variant("masivo_web, gzip", "masivo.html", {"compression": "gzip"}, masivo=True),
    Variant("masivo_web, PyScript", PYSCRIPT_PAGE, {}, masivo=True),
    Variant(PRECOMPILED, "masivo.html", {"wheel": "precompiled"}, masivo=True),
    Variant(MICROPYTHON, PYSCRIPT_PAGE, {"type": "mpy"}, masivo=True, clock_timed=True),
    Variant(
        MICROPYTHON_MPY,
        PYSCRIPT_PAGE,
        {"type": "mpy", "wheel": "mpy"},
        masivo=True,
        clock_timed=True,
    ),
    Variant(
        MICROPYTHON_GC,
        PYSCRIPT_PAGE,
        {"type": "mpy", "gc": str(1 << 20)},
        masivo=True,
        clock_timed=True,
    ),
    Variant(PYSCRIPT_PACKAGES, PYSCRIPT_PAGE, {"ship": "packages"}, masivo=True),
    Variant(
        MICROPYTHON_PACKAGES,
        PYSCRIPT_PAGE,
        {"type": "mpy", "ship": "packages"},
        masivo=True,
        clock_timed=True,
    ),
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
    """The checkout's browser settings (loaded as the tests and the demo load them)."""
    return browser_settings.load()


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


def rewrite_section(start: str, end: str, lines: list[str]) -> None:
    """Put ``lines`` (which begin with ``start`` and end with ``end``) in BENCHMARKS.md in place
    of the section between those markers, or at its end when it has none."""
    report = ROOT / "BENCHMARKS.md"
    text = report.read_text()
    new = "\n".join(lines)
    if start in text:
        before, rest = text.split(start, 1)
        text = before + new + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    report.write_text(text)
