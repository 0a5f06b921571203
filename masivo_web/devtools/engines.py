"""The three engines a shop's visitors use, for the browser tests and tools: Chromium and
Firefox through Playwright (the system's browsers, launched by path), WebKit through
:mod:`.webkit` (WebKitGTK's WebDriver under Xvfb). Each gives the same Playwright-shaped
browser, so one scenario runs on all three.

    with open_engine(playwright, "firefox", settings) as browser: ...
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: What ``open_engine`` accepts.
ENGINES = ("chromium", "firefox", "webkit")


class EngineUnavailable(RuntimeError):
    """An engine cannot be launched here; the message says what to install or pair."""


def firefox_pairing(executable: str) -> str:
    """Why Playwright cannot drive the Firefox at ``executable`` ("" when it can): each
    Playwright release speaks the WebDriver BiDi of one Firefox major version (1.62.0: 153;
    1.65 sends a command Firefox 153 does not know, at every new context)."""
    import playwright

    browsers = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    expected = next(
        entry["browserVersion"]
        for entry in json.loads(browsers.read_text())["browsers"]
        if entry["name"] == "firefox"
    )
    if not Path(executable).exists():
        return (
            f"Firefox is not at {executable}: apt-get install -y firefox-esr (make test does "
            "it), or set MASIVO_FIREFOX."
        )
    output = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    found = re.search(r"(\d+)\.\d+", output)
    from importlib.metadata import version

    if found is None or found.group(1) != expected.split(".")[0]:
        return (
            f"Playwright {version('playwright')} drives Firefox {expected}, and {executable} is "
            f"{output.strip() or 'unknown'}: pair them (Playwright 1.62.0 with Firefox ESR 153; "
            "pin the Playwright whose driver/package/browsers.json names your ESR's major "
            "version in pyproject.toml)."
        )
    return ""


@contextmanager
def open_engine(playwright: Any, name: str, settings: Any) -> Iterator[Any]:
    """A browser of engine ``name``, closed on exit. ``playwright``: a started sync
    Playwright; ``settings``: the checkout's ``playwright.config.py``."""
    if name == "webkit":
        from .webkit import WebKit, WebKitError

        try:
            browser = WebKit()
        except WebKitError as exc:
            raise EngineUnavailable(str(exc)) from None
        with browser:
            yield browser
        return
    if name == "firefox":
        problem = firefox_pairing(settings.FIREFOX_EXECUTABLE)
        if problem:
            raise EngineUnavailable(problem)
        launched = playwright.firefox.launch(**settings.firefox_launch_options())
    elif name == "chromium":
        launched = playwright.chromium.launch(**settings.launch_options())
    else:
        raise ValueError(f"engine {name!r}: one of {', '.join(ENGINES)}")
    try:
        yield launched
    finally:
        launched.close()
