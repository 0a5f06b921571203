"""One place for the browser settings, used by tests/browser/conftest.py and by
``python -m masivo_web demo --headless`` (both load this file by path).

Playwright's own browser download does not work on these machines, so the system Chromium is
launched directly; without the background-networking flags it stalls on a closed network
(it keeps trying to reach Google's services before loading pages).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
#: Served as the page origin by the demo and the browser tests.
STATIC_DIR = ROOT / "static"

CHROMIUM_EXECUTABLE = os.environ.get("MASIVO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Pyodide boots in ~3-4 s on these 2-core machines; leave room for a loaded CI box.
PYODIDE_READY_TIMEOUT_MS = 90_000
#: Default for every other Playwright wait.
ACTION_TIMEOUT_MS = 30_000


def launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    return {"executable_path": CHROMIUM_EXECUTABLE, "args": CHROMIUM_ARGS, "headless": headless}


#: Firefox: Debian's ESR, driven by Playwright over WebDriver BiDi (no Playwright download).
#: Playwright and the ESR must be paired (pyproject pins Playwright; masivo_web.devtools.engines
#: checks the pair and says which to install).
FIREFOX_EXECUTABLE = os.environ.get("MASIVO_FIREFOX", "/usr/bin/firefox-esr")


def firefox_launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.firefox.launch``."""
    return {"channel": "moz-firefox", "executable_path": FIREFOX_EXECUTABLE, "headless": headless}
