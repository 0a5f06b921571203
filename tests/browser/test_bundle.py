"""`python -m masivo_web bundle DEST`: the folder it writes is a site that works as it is,
wherever it is served. A page made of its snippet and a main.py, served from that folder alone
under a sub-path (``/shop/``: the snippet's paths are relative; another origin than the
emulator), sends an event on Pyodide and on MicroPython, and so does the README's worker
snippet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from masivo_web.browser.main_thread import FILE_NAME, module_file
from masivo_web.emulator import EmulatorServer
from masivo_web.emulator.static import StaticServer
from tests.browser.conftest import SETTINGS

MAIN = """
import js
from masivo_web import create_client

api = js.URLSearchParams.new(js.location.search).get("api")
masivo = create_client(
    "test-client-key", auth_url=api + "/auth/authorize", api_base=api, idle_flush_s=0.5
)
masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-bundle", brand_id=None)
js.document.body.dataset.ready = "true"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle, at ``/shop/`` of the served folder (its parent)."""
    dest = tmp_path_factory.mktemp("site") / "shop"
    result = subprocess.run(
        [sys.executable, "-m", "masivo_web", "bundle", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "masivo-snippet.html" in result.stdout
    # A worker's main-thread module, beside the wheel, reading its channel from its URL.
    module = (dest / "vendor" / "wheels" / FILE_NAME).read_text()
    assert module == module_file() and "import.meta.url" in module
    snippet = (dest / "masivo-snippet.html").read_text()
    for interpreter in ("pyodide", "micropython"):
        head = [line for line in snippet.splitlines() if "<!--" not in line]
        # Keep the shared lines and the one script of this interpreter.
        kept = [line for line in head if 'type="py' not in line and 'type="mpy' not in line]
        kept += [
            line for line in head if f'type="{"py" if interpreter == "pyodide" else "mpy"}"' in line
        ]
        (dest / f"{interpreter}.html").write_text(
            "<!doctype html><html><head><meta charset='utf-8'>\n"
            + "\n".join(kept)
            + "\n</head><body></body></html>\n"
        )
    (dest / "main.py").write_text(MAIN)
    return dest


@pytest.mark.parametrize("interpreter", ["micropython", "pyodide"])
def test_a_page_served_from_the_bundle_alone_sends_an_event(
    interpreter: str, site: Path, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    emulator = fresh_masivo_emulator
    with StaticServer(site.parent) as server:
        page = browser.new_context().new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{server.url}/shop/{interpreter}.html?api={emulator.url}")
        page.wait_for_selector(
            "body[data-ready=true]", state="attached", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS
        )
        (event,) = emulator.control.wait_for_events(1, type="ADD_TO_CART")
        page.context.close()
    assert event["customer_id"] == "c-bundle"
    # Everything came from the bundle's folder or the emulator: nothing from elsewhere.
    shop = f"{server.url}/shop/"
    assert all(url.startswith((shop, emulator.url, "data:", "blob:")) for url in requested)


def test_the_readme_worker_snippet_served_from_the_bundle_sends_an_event(
    site: Path, browser: Browser, fresh_masivo_emulator: EmulatorServer
) -> None:
    # The README's worker snippet, as printed: relative paths, the pinned Pyodide from the
    # bundle (no CDN), the archive in `files`.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (snippet,) = [
        line for line in readme.splitlines() if line.startswith('<script type="py" worker')
    ]
    emulator = fresh_masivo_emulator
    (site / "worker.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'>\n"
        '<link rel="stylesheet" href="./vendor/pyscript/core.css">\n'
        '<script type="module" src="./vendor/pyscript/core.js"></script>\n'
        f"{snippet}\n</head><body></body></html>\n"
    )
    (site / "shop.py").write_text(
        "from masivo_web import create_client\n"
        f"masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r}, "
        f"api_base={emulator.api_base!r}, idle_flush_s=0.5)\n"
        "masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c-worker', brand_id=None)\n"
    )
    with StaticServer(site.parent) as server:
        page = browser.new_context().new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{server.url}/shop/worker.html")
        (event,) = emulator.control.wait_for_events(
            1, type="ADD_TO_CART", timeout=SETTINGS.PYODIDE_READY_TIMEOUT_MS / 1000
        )
        page.context.close()
    assert event["customer_id"] == "c-worker"
    assert any(url.endswith(".tar.gz") for url in requested), requested
    assert all(url.startswith((server.url, emulator.url, "data:", "blob:")) for url in requested)
