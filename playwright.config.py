"""One place for the browser settings, used by tests/browser/conftest.py and by
``python -m masivo_web demo --headless`` (both load this file by path).

Playwright's own browser download does not work on these machines, so the system Chromium is
launched by path (``masivo_web.devtools.engines``: MASIVO_CHROMIUM and MASIVO_FIREFOX name
others).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from masivo_web.devtools.engines import SYSTEM_CHROMIUM, SYSTEM_FIREFOX, system_launch_options

ROOT = Path(__file__).resolve().parent
#: Served as the page origin by the demo and the browser tests.
STATIC_DIR = ROOT / "static"

CHROMIUM_EXECUTABLE = SYSTEM_CHROMIUM
#: Pyodide boots in ~3-4 s on these 2-core machines; leave room for a loaded CI box.
PYODIDE_READY_TIMEOUT_MS = 90_000
#: Default for every other Playwright wait.
ACTION_TIMEOUT_MS = 30_000


def launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    return {**system_launch_options("chromium"), "headless": headless}


#: Firefox: Debian's ESR, driven by Playwright over WebDriver BiDi (no Playwright download).
#: Playwright and the ESR must be paired (pyproject pins Playwright; masivo_web.devtools.engines
#: checks the pair and says which to install).
FIREFOX_EXECUTABLE = SYSTEM_FIREFOX


def firefox_launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.firefox.launch``."""
    return {**system_launch_options("firefox"), "headless": headless}
