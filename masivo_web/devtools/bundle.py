"""``python -m masivo_web bundle DEST``: a folder ready to serve from your own site, with what
a PyScript page needs for masivo_web: PyScript, the interpreter(s) and the SDK as one archive
(shipped through PyScript's ``files``: no micropip, no zip reader, one download).

Copied from a checkout's ``static/vendor/`` (``make test``, ``make demo`` or ``python
tools/browser_assets.py`` install it from npm and PyPI, pinned in ``package.json``), into
``DEST/vendor/``, with ``DEST/masivo-snippet.html``: the lines for your page's ``<head>``, with
paths relative to the page. Serve ``DEST`` wherever you like (a site's root or a sub-path), with
your pages beside ``vendor/``, ``.wasm`` as ``application/wasm`` and ``.mjs`` as
``text/javascript``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
#: What each interpreter's page loads, relative to ``vendor/``.
RUNTIMES = {
    "pyodide": [
        "pyodide/pyodide.mjs",
        "pyodide/pyodide.asm.mjs",
        "pyodide/pyodide.asm.wasm",
        "pyodide/python_stdlib.zip",
        "pyodide/pyodide-lock.json",
    ],
    "micropython": ["micropython/micropython.mjs", "micropython/micropython.wasm"],
}
#: PyScript: core.js imports its chunks by name, so the whole dist (no source maps) goes.
PYSCRIPT = ["pyscript/*.js", "pyscript/*.css"]
#: The main-thread module of a worker's client, beside the archive (the asset step writes it): a
#: CSP with script-src 'self' loads it (the same module as a data: URL needs data: scripts).
PAGE_MODULE = "wheels/masivo_web_page.js"
#: Every path in the snippet is relative to the page (beside ``vendor/``), so the folder works
#: wherever it is served: a site's root or a sub-path such as ``/shop/``.
INTERPRETER_PATHS = {
    "pyodide": ("py", "./vendor/pyodide/pyodide.mjs"),
    "micropython": ("mpy", "./vendor/micropython/micropython.mjs"),
}


def bundle(dest: Path, interpreter: str = "both", precompiled: bool = False) -> list[Path]:
    """Copy the files into ``dest/vendor`` and write ``dest/masivo-snippet.html``; returns the
    files written. ``precompiled``: the bytecode build (Pyodide) and the ``.mpy`` one
    (MicroPython) instead of the source."""
    latest = VENDOR / "wheels" / "latest.json"
    if not latest.exists():
        raise FileNotFoundError(
            "bundle copies a checkout's browser assets, and they are not installed: run "
            "`make test` or `python tools/browser_assets.py` in the masivo_web checkout first."
        )
    archives = json.loads(latest.read_text())["archives"]
    chosen = list(INTERPRETER_PATHS) if interpreter == "both" else [interpreter]
    patterns = [*PYSCRIPT, PAGE_MODULE]
    snippet = [
        '<link rel="stylesheet" href="./vendor/pyscript/core.css">',
        '<script type="module" src="./vendor/pyscript/core.js"></script>',
    ]
    for name in chosen:
        patterns += RUNTIMES[name]
        kind = {"pyodide": "precompiled", "micropython": "mpy"}[name] if precompiled else "wheel"
        patterns.append(f"wheels/{archives[kind]}")
        script_type, interpreter_url = INTERPRETER_PATHS[name]
        config = json.dumps(
            {"interpreter": interpreter_url, "files": {f"./vendor/wheels/{archives[kind]}": "./*"}}
        )
        snippet.append(
            f'<!-- {name}: -->\n<script type="{script_type}" src="./main.py" '
            f"config='{config}'></script>"
        )
    sources: dict[Path, None] = {}  # each file once (both interpreters share the archive)
    for pattern in patterns:
        matches = sorted(VENDOR.glob(pattern))
        if not matches:
            raise FileNotFoundError(f"static/vendor/{pattern} is missing: rebuild the assets.")
        sources.update(dict.fromkeys(matches))
    written = []
    for source in sources:
        target = dest / "vendor" / source.relative_to(VENDOR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    _remove_stale(dest / "vendor", set(written))
    page = dest / "masivo-snippet.html"
    page.write_text("\n".join(snippet) + "\n")
    return [*written, page]


def _remove_stale(vendor: Path, kept: set[Path]) -> None:
    """Delete what an earlier bundle left in ``vendor`` (another version's archive, another
    interpreter's files) and is not part of this one. Only what a bundle writes: the runtimes'
    folders and the SDK's files in ``wheels/``; anything else of yours in ``vendor/`` stays."""
    owned = [vendor / "pyscript", vendor / "pyodide", vendor / "micropython"]
    candidates = [
        path for folder in owned if folder.exists() for path in [folder, *folder.rglob("*")]
    ]
    candidates += list((vendor / "wheels").glob("masivo_web*"))
    for path in sorted(candidates, reverse=True):  # files before their folders
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif path not in kept:
            path.unlink()


def main(dest: str, interpreter: str, precompiled: bool) -> int:
    """The command: copy, then say what was written and what to put in the page."""
    try:
        written = bundle(Path(dest), interpreter, precompiled)
    except (FileNotFoundError, OSError) as exc:
        print(f"masivo_web bundle: {exc}", file=sys.stderr)
        return 2
    total = sum(path.stat().st_size for path in written)
    print(f"{len(written)} files, {total / 1e6:.1f} MB, in {dest}:")
    for path in written:
        print(f"  {path.relative_to(dest)}  ({path.stat().st_size:,} bytes)")
    print(f"\nIn your page's <head> ({Path(dest, 'masivo-snippet.html')}):\n")
    print(Path(dest, "masivo-snippet.html").read_text())
    return 0
