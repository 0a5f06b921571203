"""pytest fixtures for testing code that uses masivo_web against the local Masivo emulator.

Registered through the ``pytest11`` entry point, so installing ``masivo_web[emulator]`` makes
them available in any test suite:

- ``masivo_emulator`` (session): a real emulator on 127.0.0.1 on a free port, shared by every
  test. Its ``auth_url``, ``api_base`` and ``client_key`` configure ``create_client``, and
  ``url`` is the origin a browser page talks to.
- ``fresh_masivo_emulator`` (per test): the same emulator, reset first (no events, requests or
  faults left from earlier tests), with the SDK's memory of keys forgotten (a key refused in an
  earlier test is asked for again at once).

Both are :class:`masivo_web.emulator.EmulatorServer`; ``.control`` inspects and steers it
(``received_events()``, ``wait_for_events(n)``, ``requests()``, ``inject_fault(...)``).

With pytest-playwright, ``masivo_browser`` (session) is the browser of ``--browser chromium``,
``firefox`` or ``webkit``: Playwright's own build where it is installed, else this machine's
(Chromium and Firefox ESR launched by path, WebKitGTK through its WebDriver under Xvfb:
:mod:`masivo_web.devtools.engines`). A suite makes it pytest-playwright's ``browser`` with a
three-line fixture in its ``conftest.py`` (the README's "Test your own page").

Nothing is imported from the emulator until a fixture is used, so the plugin costs nothing to
suites that never ask for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .emulator import EmulatorServer


@pytest.fixture(scope="session")
def masivo_emulator() -> Iterator[EmulatorServer]:
    """A Masivo emulator on loopback for the whole test session."""
    try:
        from .emulator import EmulatorServer
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        pytest.fail(
            f"masivo_emulator needs the emulator extra ({exc.name} is missing): "
            "pip install 'masivo_web[emulator]'"
        )
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def fresh_masivo_emulator(masivo_emulator: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset for this test, and the SDK's memory of keys (refusals,
    tokens) forgotten, so nothing an earlier test did carries into this one."""
    from .seams import shared_tokens

    masivo_emulator.control.reset()
    shared_tokens.forget()
    return masivo_emulator


@pytest.fixture(scope="session")
def masivo_browser(
    browser_name: str, browser_type: Any, launch_browser: Callable[..., Any]
) -> Iterator[Any]:
    """pytest-playwright's browser for this ``--browser``: Playwright's own build where it is
    installed (``playwright install``), else this machine's (``MASIVO_CHROMIUM``,
    ``MASIVO_FIREFOX`` name others than /usr/bin/chromium and /usr/bin/firefox-esr; WebKit is
    WebKitGTK with the Playwright calls a page test makes, CSS selectors only). Fails saying
    what to install when neither is there."""
    from .devtools.engines import EngineUnavailable, system_browser

    if Path(browser_type.executable_path).exists():
        browser = launch_browser()
        yield browser
        browser.close()
        return
    try:
        with system_browser(browser_name, launch_browser) as browser:
            yield browser
    except EngineUnavailable as exc:
        pytest.fail(
            f"{exc} (or Playwright's own {browser_name}: playwright install {browser_name})"
        )
