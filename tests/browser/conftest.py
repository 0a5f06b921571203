"""Browser tests: real headless Chromium (the system one), the real emulator, pages served from
another origin. Launch settings come from playwright.config.py (loaded by
masivo_web.devtools.browser_settings, as the demo, the reliability run and the benchmarks do).

Every Pyodide boot costs ~4-6 s here, so tests that leave their page alive share one booted page
per module (each creates its own client and uses a freshly reset emulator); tests that navigate
away or close the page boot their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

import masivo_web
from masivo_web.devtools import browser_settings
from masivo_web.devtools.engines import EngineUnavailable, open_engine
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer

ROOT = Path(__file__).resolve().parents[2]


SETTINGS = browser_settings.load()
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = HIDE.replace("'hidden'", "'visible'").replace("=> true", "=> false")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A renderer of this machine's headless Chromium now and then crashes ("Target crashed",
    seen in about one full run in five, in any test): such a test runs once more. Nothing
    else is retried: a failing assertion or a timeout fails at once."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["Target crashed"]))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(SETTINGS.CHROMIUM_EXECUTABLE).exists():
        pytest.fail(
            f"Chromium is not at {SETTINGS.CHROMIUM_EXECUTABLE}: `apt-get install -y chromium` "
            "(make test does it where apt is available), or set MASIVO_CHROMIUM."
        )
    options = SETTINGS.launch_options()
    return {
        **browser_type_launch_args,
        "executable_path": options["executable_path"],
        "args": options["args"],
    }


@pytest.fixture(scope="session", params=["firefox", "webkit"])
def engine(request: pytest.FixtureRequest, playwright: Playwright) -> Iterator[Any]:
    """A browser of each engine beside Chromium (Firefox ESR, WebKitGTK), for the session: a
    Playwright browser, or the Playwright-shaped WebKit layer (``masivo_web.devtools.webkit``).
    An engine that cannot start fails, saying what to install."""
    try:
        with open_engine(playwright, str(request.param)) as browser:
            yield browser
    except EngineUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def pages_server() -> Iterator[StaticServer]:
    """Serves static/ on its own origin (the emulator is another one)."""
    latest = SETTINGS.STATIC_DIR / "vendor" / "wheels" / "latest.json"
    if not latest.exists():
        pytest.fail(
            "Browser assets are missing: run `make test` (or python tools/browser_assets.py)."
        )
    names = json.loads(latest.read_text())
    kinds = ("wheel", "precompiled", "mpy")
    archives = names.get("archives", {})
    wheels = [latest.parent / names.get(kind, "missing") for kind in kinds]
    wheels += [latest.parent / archives.get(kind, "missing") for kind in kinds]
    package = Path(masivo_web.__file__).parent
    changed = [
        source.relative_to(package.parent)
        for source in package.rglob("*.py")
        for wheel in wheels
        if not wheel.exists() or source.stat().st_mtime > wheel.stat().st_mtime
    ]
    if changed:  # the pages would test the last build, not this tree
        pytest.fail(
            f"The page's wheel is older than {', '.join(map(str, changed[:3]))}: rebuild it "
            "with `make test` (or python tools/browser_assets.py)."
        )
    with StaticServer(SETTINGS.STATIC_DIR) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(pages_server: StaticServer) -> str:
    """pytest-playwright's base URL is the pages origin (this also replaces pytest-base-url's
    fixture, which trips a pytest deprecation)."""
    return pages_server.url


def open_harness(context: BrowserContext, pages_server: StaticServer, path: str) -> Page:
    """A new page of ``context`` at the harness ``path`` (under static/test/), booted: its
    interpreter loaded and masivo_web unpacked from the page archive (``test/harness.html``:
    Pyodide, ``?wheel=precompiled`` the bytecode build; ``test/mpy.html``: PyScript's
    MicroPython, ``?wheel=mpy`` the .mpy build; either with ``?ship=packages``: the wheel,
    installed as PyScript's ``packages`` install it)."""
    page = context.new_page()
    page.set_default_timeout(SETTINGS.ACTION_TIMEOUT_MS)
    page.goto(f"{pages_server.url}/test/{path}")
    page.wait_for_function(
        "window.__ready || window.__bootError", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS
    )
    error = page.evaluate("window.__bootError || null")
    assert error is None, f"the harness {path} failed to boot: {error}"
    return page


def boot_harness(browser: Browser, pages_server: StaticServer, query: str = "") -> Page:
    """A Pyodide harness page in a new browser context (``query``: see :func:`open_harness`)."""
    return open_harness(browser.new_context(), pages_server, f"harness.html{query}")


#: The events the page's write-ahead store holds (one line per event in each segment key).
STORED_EVENTS = (
    "Object.keys(localStorage).filter(k => k.includes(':ev:'))"
    ".reduce((n, k) => n + localStorage.getItem(k).split('\\n').length - 1, 0)"
)


def run_python(page: Page, code: str) -> Any:
    """Run ``code`` in the page's Pyodide (top-level await allowed); returns the last value."""
    return page.evaluate("code => runPython(code)", code)


_RECORD_DEPARTURE = """() => {
  const log = entry => {
    const entries = JSON.parse(sessionStorage.getItem('departure') || '[]');
    entries.push(entry);
    sessionStorage.setItem('departure', JSON.stringify(entries));
  };
  const fetch = window.fetch;
  window.fetch = function (url, init) {
    log(['fetch', String(url), Boolean(init && init.keepalive), navigator.onLine]);
    return fetch.apply(this, arguments);
  };
  const state = name => () => log([name, document.visibilityState, navigator.onLine]);
  addEventListener('pagehide', state('pagehide'), true);
  addEventListener('offline', state('offline'), true);
  document.addEventListener('visibilitychange', state('visibilitychange'), true);
}"""


def record_departure(page: Page) -> None:
    """Log the page's lifecycle events and fetch calls into sessionStorage, which outlives a
    same-origin navigation: read it on the next page with :func:`departure_log` to say what
    the departing page did (for failure messages)."""
    page.evaluate(_RECORD_DEPARTURE)


def departure_log(page: Page) -> Any:
    return page.evaluate("JSON.parse(sessionStorage.getItem('departure') || '[]')")


def client_code(emulator: EmulatorServer, name: str = "masivo", **options: Any) -> str:
    extra = "".join(f", {key}={value!r}" for key, value in options.items())
    return (
        "from masivo_web import create_client\n"
        f"{name} = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
        f"api_base={emulator.api_base!r}{extra})\n"
    )


class SharedPage:
    """A booted page that a module's tests share, booted again when its renderer crashed: the
    one rerun a crash gets (above) then runs on a live page, not on the crashed one."""

    def __init__(self, boot: Callable[[], Page]) -> None:
        self._boot = boot
        self._page: Page | None = None
        self._crashed = False

    def get(self) -> Page:
        if self._page is None or self._crashed:
            self.close()
            self._crashed = False
            self._page = self._boot()
            self._page.on("crash", lambda _: setattr(self, "_crashed", True))
        return self._page

    def close(self) -> None:
        if self._page is not None:
            try:
                self._page.context.close()
            except Exception:  # a crashed page's context may be gone already
                pass
            self._page = None


@pytest.fixture(scope="module")
def _shared_harness(browser: Browser, pages_server: StaticServer) -> Iterator[SharedPage]:
    shared = SharedPage(lambda: boot_harness(browser, pages_server))
    yield shared
    shared.close()


@pytest.fixture
def shared_page(_shared_harness: SharedPage) -> Page:
    """A booted Pyodide harness page shared by the module's tests (each makes its own client)."""
    return _shared_harness.get()


@pytest.fixture
def own_page(browser: Browser, pages_server: StaticServer) -> Iterator[Page]:
    page = boot_harness(browser, pages_server)
    yield page
    page.context.close()
