"""The three engines a shop's visitors use, for the browser tests, the tools and users' own
tests (the pytest plugin's ``masivo_browser``): Chromium and Firefox through Playwright (this
machine's packages, launched by path: Playwright's own downloads are not everywhere), WebKit
through :mod:`.webkit` (WebKitGTK's WebDriver under Xvfb). Each gives the same
Playwright-shaped browser, so one scenario runs on all three.

    with open_engine(playwright, "firefox") as browser: ...
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: What ``open_engine`` accepts.
ENGINES = ("chromium", "firefox", "webkit")
#: This machine's Chromium and Firefox (Debian's packages; the environment may name others).
SYSTEM_CHROMIUM = os.environ.get("MASIVO_CHROMIUM", "/usr/bin/chromium")
SYSTEM_FIREFOX = os.environ.get("MASIVO_FIREFOX", "/usr/bin/firefox-esr")
#: Without the background-networking flags the system Chromium stalls on a closed network
#: (it keeps trying to reach Google's services before loading pages).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class EngineUnavailable(RuntimeError):
    """An engine cannot be launched here; the message says what to install or pair."""


def system_launch_options(name: str) -> dict[str, Any]:
    """Keyword arguments for Playwright's ``launch`` of this machine's ``name`` browser
    (``"chromium"`` or ``"firefox"``: Firefox over WebDriver BiDi, the ``moz-firefox``
    channel)."""
    if name == "chromium":
        return {"executable_path": SYSTEM_CHROMIUM, "args": CHROMIUM_ARGS}
    if name == "firefox":
        return {"channel": "moz-firefox", "executable_path": SYSTEM_FIREFOX}
    raise ValueError(f"engine {name!r}: chromium or firefox (WebKit runs through .webkit)")


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
def system_browser(name: str, launch: Callable[..., Any]) -> Iterator[Any]:
    """This machine's browser of engine ``name``, closed on exit: ``launch`` is Playwright's
    (``playwright.<name>.launch``, or pytest-playwright's ``launch_browser``), given the system
    executable; WebKit is WebKitGTK through :mod:`.webkit`. Raises :class:`EngineUnavailable`
    saying what to install."""
    if name == "webkit":
        from .webkit import WebKit, WebKitError

        try:
            webkit = WebKit()
        except WebKitError as exc:
            raise EngineUnavailable(str(exc)) from None
        with webkit:
            yield webkit
        return
    if name == "firefox":
        problem = firefox_pairing(SYSTEM_FIREFOX)
        if problem:
            raise EngineUnavailable(problem)
    elif name == "chromium":
        if not Path(SYSTEM_CHROMIUM).exists():
            raise EngineUnavailable(
                f"Chromium is not at {SYSTEM_CHROMIUM}: apt-get install -y chromium (make test "
                "does it), or set MASIVO_CHROMIUM."
            )
    else:
        raise ValueError(f"engine {name!r}: one of {', '.join(ENGINES)}")
    launched = launch(**system_launch_options(name))
    try:
        yield launched
    finally:
        launched.close()


@contextmanager
def open_engine(playwright: Any, name: str) -> Iterator[Any]:
    """This machine's browser of engine ``name``, closed on exit. ``playwright``: a started
    sync Playwright."""

    def launch(**options: Any) -> Any:  # Chromium's or Firefox's; WebKit's is not Playwright's
        return getattr(playwright, name).launch(**options)

    with system_browser(name, launch) as browser:
        yield browser
