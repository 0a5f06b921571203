"""``python -m masivo_web demo``: the shop page and the emulator on two origins, optionally driven
in headless Chromium to show that every event sent arrives, including those queued when the
page is left; on Pyodide (``index.html``) and on MicroPython (``mpy.html``: the same shop.py in
``<script type="mpy">``). Runs from a checkout (it serves ``static/``); needs the ``dev`` extra
for ``--headless`` (Playwright) and ``python tools/browser_assets.py`` (``make demo`` does both).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import browser_settings

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
#: The shop page of each interpreter.
PAGES = {"pyodide": "demo/", "micropython": "demo/mpy.html"}
INTERPRETERS = (*PAGES, "both")


def run(headless: bool, port: int | None, api_port: int | None, interpreter: str = "both") -> int:
    """Serve the demo; with ``headless`` drive the shop of ``interpreter`` (``"pyodide"``,
    ``"micropython"`` or ``"both"``, one after the other) and return 0 only if nothing was
    lost."""
    if not (STATIC / "vendor" / "wheels" / "latest.json").exists():
        print(
            "The demo needs a checkout with its browser assets: run `make demo`, or "
            "`python tools/browser_assets.py` first.",
            file=sys.stderr,
        )
        return 2
    from ..emulator import EmulatorServer
    from ..emulator.static import StaticServer

    if headless:  # nobody types the URLs: any free ports
        port, api_port = port or 0, api_port or 0
    else:  # the usual ports when free (a URL to remember), any free ones otherwise
        port = pick_port(8000) if port is None else port
        api_port = pick_port(8765) if api_port is None else api_port
    with (
        EmulatorServer(port=api_port) as emulator,
        StaticServer(STATIC, port=port) as pages,
    ):
        chosen = list(PAGES) if interpreter == "both" else [interpreter]
        urls = {name: f"{pages.url}/{PAGES[name]}?api={emulator.url}" for name in chosen}
        print("masivo_web demo")
        for name, url in urls.items():
            print(f"  shop page : {url}  ({name})")
        print(f"  emulator  : {emulator.url}  (another origin: CORS is exercised)")
        print(f"  inspect   : {emulator.url}/_emulator/events", flush=True)
        if headless:
            failed = 0
            for name, url in urls.items():
                emulator.control.reset()
                print(f"\n-- {name} --", flush=True)
                failed += _drive(url, emulator, name)
            return 1 if failed else 0
        print("Open the shop page in a browser; Ctrl-C stops.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def pick_port(preferred: int) -> int:
    """``preferred`` if nothing listens on it on 127.0.0.1, else 0 (any free port), saying so."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            print(f"port {preferred} is busy: using a free one instead", flush=True)
            return 0
    return preferred


def _drive(url: str, emulator: Any, interpreter: str) -> int:
    from playwright.sync_api import sync_playwright

    settings = browser_settings.load()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**settings.launch_options())
        page = browser.new_page()
        page.set_default_timeout(settings.ACTION_TIMEOUT_MS)
        started = time.monotonic()
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        runtime = "Pyodide" if interpreter == "pyodide" else "MicroPython"
        print(f"{runtime} + PyScript + masivo_web ready in {time.monotonic() - started:.1f} s")

        for index in range(3):
            page.click(f".add-to-cart >> nth={index}")
        page.click("#empty-cart")
        page.click("#flush")
        first = len(emulator.control.wait_for_events(4, timeout=15))
        print(f"3 x Add to cart, 1 x Empty cart, Send now   -> received {first}/4")

        for index in (0, 1, 2):
            page.click(f".add-to-cart >> nth={index}")
        sent = int(page.evaluate("window.masivoSent"))
        before = len(emulator.control.received_events())
        page.click("#leave")  # the 5 s idle flush has not fired: the batch is still queued
        page.wait_for_url("**/bye.html")
        try:
            received = emulator.control.wait_for_events(sent, timeout=15)
        except TimeoutError:
            received = emulator.control.received_events()
        after = len(received) - before
        print(
            f"3 x Add to cart, then left the page mid-batch -> received {after}/{sent - before} "
            "after the page was gone"
        )
        browser.close()

    stats = emulator.control.stats()
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(Counter(e["type"] for e in received).items()))
    ids = [event["event_id"] for event in received]
    print(
        f"sent {sent} events, received {len(received)} ({by_type}); distinct event ids "
        f"{len(set(ids))}; copies received (sent again): {stats['repeats']}"
    )
    if len(received) == sent and len(set(ids)) == len(ids):
        print("OK: every event sent was received, including those queued when the page was left.")
        return 0
    print(f"FAILED: {sent - len(received)} event(s) lost.", file=sys.stderr)
    return 1
