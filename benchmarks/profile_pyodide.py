"""Where a tracking call spends its time inside Pyodide, in Chromium: cProfile around
1,000 calls made from a JS loop, printed as the top functions by own time.

    .venv/bin/python benchmarks/profile_pyodide.py [--calls 1000] [--top 25]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from masivo_web.emulator import EmulatorServer  # noqa: E402
from masivo_web.emulator.static import StaticServer  # noqa: E402

SETUP = """
import cProfile, io, pstats
from masivo_web import create_client
masivo = create_client({key!r}, auth_url={auth!r}, api_base={api!r}, {options})
{before}
await masivo.get_token()
def send():
    masivo.send_analytics_event(type='ADD_TO_CART', customer_id='c-1', brand_id=None,
                                product={{'sku': 'SKU-1', 'amount': 1, 'value': 9.99}})
def noop():
    pass
_profile = cProfile.Profile()
"""
REPORT = """
_out = io.StringIO()
pstats.Stats(_profile, stream=_out).sort_stats('tottime').print_stats({top})
_out.getvalue()
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--options", default="", help="more create_client keywords, e.g. context=False"
    )
    parser.add_argument(
        "--before", default="", help="Python run before the calls, e.g. gc.disable()"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    spec = importlib.util.spec_from_file_location("pw", ROOT / "playwright.config.py")
    assert spec is not None
    assert spec.loader is not None
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    with (
        EmulatorServer() as emulator,
        StaticServer(ROOT / "static") as pages,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(**settings.launch_options())
        page = browser.new_page()
        page.goto(f"{pages.url}/test/harness.html")
        page.wait_for_function("window.__ready", timeout=settings.PYODIDE_READY_TIMEOUT_MS)
        setup = SETUP.format(
            key=emulator.client_key,
            auth=emulator.auth_url,
            api=emulator.api_base,
            options=args.options,
            before=args.before,
        )
        page.evaluate("(code) => runPython(code)", setup)
        report = page.evaluate(
            """async ({calls, report}) => {
                const send = pyodide.globals.get("send");
                const profile = pyodide.globals.get("_profile");
                send();
                const median = async (fn) => {
                    const blocks = [];
                    for (let b = 0; b < 20; b++) {
                        const t = performance.now();
                        for (let i = 0; i < 100; i++) fn();
                        blocks.push((performance.now() - t) * 10);
                        await new Promise((done) => setTimeout(done, 0));  // the loop turns
                    }
                    return blocks.sort((a, b) => a - b)[10];
                };
                const base = await median(pyodide.globals.get("noop"));
                const plain = `${(await median(send)).toFixed(1)} µs per call without the `
                    + `profiler (median of 100-call blocks; an empty call: ${base.toFixed(1)})\\n`;
                profile.enable();
                const t0 = performance.now();
                for (let i = 0; i < calls; i++) {
                    send();
                    if (i % 100 === 99) await new Promise((done) => setTimeout(done, 0));
                }
                const ms = performance.now() - t0;
                profile.disable();
                return plain + `${(ms * 1000 / calls).toFixed(0)} µs per call under the profiler\\n`
                       + await runPython(report);
            }""",
            {"calls": args.calls, "report": REPORT.format(top=args.top)},
        )
        print(report)
        page.evaluate("() => runPython('await masivo.flush()')")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
