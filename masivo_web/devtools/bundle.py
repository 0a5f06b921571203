"""``python -m masivo_web bundle DEST``: a folder ready to serve from your own site, with what
a PyScript page needs for masivo_web: PyScript, the interpreter(s) and the SDK as one archive
(shipped through PyScript's ``files``: no micropip, no zip reader, one download).

It works from an installed package as from a checkout: the runtimes are the npm packages pinned
in :mod:`.npm` (a checkout's ``node_modules``, else downloaded once from the npm registry,
integrity-checked and cached), and the SDK's archive is built from the masivo_web this Python
runs (:mod:`.page_build`). Into ``DEST/vendor/``, with ``DEST/masivo-snippet.html``: the lines
for your page's ``<head>``, with paths relative to the page. Serve ``DEST`` wherever you like (a
site's root or a sub-path), with your pages beside ``vendor/``, ``.wasm`` as
``application/wasm`` and ``.mjs`` as ``text/javascript``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..browser.main_thread import FILE_NAME, module_file
from . import npm
from .page_build.archives import BuildToolMissing, missing_tools, page_archives

#: What each interpreter's page loads: the npm package, its files, their folder in ``vendor/``.
RUNTIMES = {
    "pyodide": (
        "pyodide",
        [
            "pyodide.mjs",
            "pyodide.asm.mjs",
            "pyodide.asm.wasm",
            "python_stdlib.zip",
            "pyodide-lock.json",
        ],
        "pyodide",
    ),
    "micropython": (
        "@micropython/micropython-webassembly-pyscript",
        ["micropython.mjs", "micropython.wasm"],
        "micropython",
    ),
}
#: PyScript: core.js imports its chunks by name, so the whole dist (no source maps) goes.
PYSCRIPT = "@pyscript/core"
#: Every path in the snippet is relative to the page (beside ``vendor/``), so the folder works
#: wherever it is served: a site's root or a sub-path such as ``/shop/``.
INTERPRETER_PATHS = {
    "pyodide": ("py", "./vendor/pyodide/pyodide.mjs"),
    "micropython": ("mpy", "./vendor/micropython/micropython.mjs"),
}


def bundle(
    dest: Path, interpreter: str = "both", precompiled: bool = False, cache: Path | None = None
) -> list[Path]:
    """Write the files into ``dest/vendor`` and ``dest/masivo-snippet.html``; returns the files
    written. ``precompiled``: the bytecode build (Pyodide) and the ``.mpy`` one (MicroPython)
    instead of the source. ``cache``: where downloaded npm packages are kept."""
    cache = cache or npm.default_cache()
    chosen = list(INTERPRETER_PATHS) if interpreter == "both" else [interpreter]
    kinds = {
        name: ({"pyodide": "precompiled", "micropython": "mpy"}[name] if precompiled else "wheel")
        for name in chosen
    }
    missing = missing_tools(sorted(set(kinds.values())))
    if missing:  # before any download
        raise BuildToolMissing(missing)
    vendor = dest / "vendor"
    files: dict[Path, bytes] = {}
    pyscript = npm.package_folder(PYSCRIPT, cache) / "dist"
    for path in sorted(pyscript.iterdir()):
        if path.suffix in (".js", ".css"):
            files[vendor / "pyscript" / path.name] = path.read_bytes()
    for name in chosen:
        package, paths, folder = RUNTIMES[name]
        source = npm.package_folder(package, cache)
        for file_name in paths:
            files[vendor / folder / file_name] = (source / file_name).read_bytes()
    wheels = vendor / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pyodide = npm.package_folder("pyodide", cache) if "precompiled" in kinds.values() else None
    archives = page_archives(wheels, sorted(set(kinds.values())), pyodide)
    # The main-thread module of a worker's client, beside the archive: a CSP with script-src
    # 'self' loads it (the same module as a data: URL needs data: scripts).
    files[wheels / FILE_NAME] = module_file().encode()
    snippet = [
        '<link rel="stylesheet" href="./vendor/pyscript/core.css">',
        '<script type="module" src="./vendor/pyscript/core.js"></script>',
    ]
    for name in chosen:
        script_type, interpreter_url = INTERPRETER_PATHS[name]
        url = f"./vendor/wheels/{archives[kinds[name]].name}"
        config = json.dumps({"interpreter": interpreter_url, "files": {url: "./*"}})
        snippet.append(
            f'<!-- {name}: -->\n<script type="{script_type}" src="./main.py" '
            f"config='{config}'></script>"
        )
    for target, data in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
    written = sorted([*files, *archives.values()])
    _remove_stale(vendor, set(written))
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
    except (npm.RuntimeDownloadError, BuildToolMissing, OSError) as exc:
        print(f"masivo_web bundle: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"masivo_web bundle: the precompiled build failed:\n{exc.stderr}", file=sys.stderr)
        return 2
    total = sum(path.stat().st_size for path in written)
    print(f"{len(written)} files, {total / 1e6:.1f} MB, in {dest}:")
    for path in written:
        print(f"  {path.relative_to(dest)}  ({path.stat().st_size:,} bytes)")
    print(f"\nIn your page's <head> ({Path(dest, 'masivo-snippet.html')}):\n")
    print(Path(dest, "masivo-snippet.html").read_text())
    return 0
