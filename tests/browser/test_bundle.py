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

import masivo_web
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


def test_bundling_again_leaves_nothing_stale_and_counts_what_is_on_disk(tmp_path: Path) -> None:
    dest = tmp_path / "site"
    (dest / "vendor" / "wheels").mkdir(parents=True)
    (dest / "vendor" / "wheels" / "masivo_web-0.0.1+page.tar.gz").write_bytes(b"old")
    (dest / "index.html").write_text("the user's page")
    (dest / "vendor" / "their-lib.js").write_text("the user's own file in vendor/")
    for options in ([], ["--precompiled"], ["--interpreter", "micropython"]):
        result = subprocess.run(
            [sys.executable, "-m", "masivo_web", "bundle", str(dest), *options],
            capture_output=True,
            text=True,
            check=True,
        )
        on_disk = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
        listed = sorted(
            line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")
        )
        assert listed == sorted(set(listed))  # each file once
        count = int(result.stdout.split(" files,")[0])
        assert count == len(listed) == len(on_disk) - 2  # all but the user's two files
        assert (dest / "index.html").read_text() == "the user's page"
        assert (dest / "vendor" / "their-lib.js").exists()
    wheels = sorted(p.name for p in (dest / "vendor" / "wheels").iterdir())
    assert wheels == [f"masivo_web-{masivo_web.__version__}+page.tar.gz", "masivo_web_page.js"]
    assert not (dest / "vendor" / "pyodide").exists()  # the last bundle was MicroPython's only
