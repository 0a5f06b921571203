"""Install the browser assets the demo and the browser tests serve, from the registries only.

    python tools/browser_assets.py          # idempotent; fast when nothing changed

Into ``static/vendor/`` (git-ignored):
- ``pyodide/``: Pyodide core from the npm package ``pyodide`` (pinned in package.json), plus the
  wheels its lock names for micropip (micropip, packaging) downloaded from PyPI. Their hashes
  differ from the lock's, and Chromium enforces the lock's hashes as SRI, so the served
  ``pyodide-lock.json`` is rewritten with the real sha256 of the wheels we ship. Integrity checks
  stay on everywhere (this is the only fix that also serves PyScript ``packages``).
- ``pyscript/``: ``@pyscript/core`` dist files (no source maps).
- ``micropython/``: PyScript's MicroPython build (npm
  ``@micropython/micropython-webassembly-pyscript``, pinned exactly in package.json: its
  ``latest`` tag lags), ``micropython.mjs`` and ``micropython.wasm``.
- ``wheels/``: the masivo_web wheel for pages (``masivo_web/devtools/page_build``), rebuilt from
  the working tree on every run, the same compiled to bytecode for Pyodide's Python (under Node)
  and to ``.mpy`` for MicroPython (``mpy-cross``),
  and each of the three as the ``.tar.gz`` archive pages ship through PyScript's ``files``;
  the full wheel goes to ``dist/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from masivo_web.devtools.page_build import archives as page_archives
from masivo_web.devtools.page_build import bytecode
from masivo_web.devtools.page_build import wheel as page_wheel

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.js",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
)
#: Lock entries whose wheels we serve (micropip vendors packaging, but PyScript may ask for it).
LOCK_WHEELS = ("micropip", "packaging")
#: Pure wheels for running the unit tests inside Pyodide under Node (tools/pyodide_node).
PYODIDE_TEST_WHEELS = (
    "pytest==9.2.0",
    "pluggy==1.7.0",
    "iniconfig==2.3.1",
    "packaging==26.3",
    "pygments==2.21.0",
    "hypothesis==6.155.7",  # the last release with a pure wheel (later ones are compiled)
    "sortedcontainers==2.4.0",
)
PYODIDE_TEST_WHEEL_DIR = ROOT / ".cache" / "pyodide-wheels"
#: The full wheel, as published on PyPI (the page gets the browser build of it).
DIST = ROOT / "dist"


def run(*command: str) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def npm_packages() -> None:
    lock = ROOT / "package-lock.json"
    marker = NODE_MODULES / ".package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    run("npm", "ci", "--no-audit", "--no-fund")


def pip_download(dest: Path, python_version: str, *specs: str) -> None:
    """Pure wheels for Pyodide's Python, from PyPI (no dependencies resolved: we pin them)."""
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--python-version",
        python_version,
        "--platform",
        "any",  # pure wheels only: Pyodide cannot use CPython's compiled ones
        "--only-binary=:all:",
        "--dest",
        str(dest),
        *specs,
    )


def demo_variants() -> None:
    """The shop of static/demo/index.html with other tags, generated so the forms can never
    drift apart: script.html with ``<script type="py">`` instead of ``<py-script>``, mpy.html
    with ``<script type="mpy">`` and MicroPython (the same shop.py and wheel)."""
    demo = ROOT / "static" / "demo"
    for name, variant in variant_pages((demo / "index.html").read_text()).items():
        target = demo / name
        if not target.exists() or target.read_text() != variant:
            target.write_text(variant)


def variant_pages(page: str) -> dict[str, str]:
    """The generated pages (name: text) of the demo shop's ``index.html`` text."""
    tag = re.search(r"<py-script (src=.*?)></py-script>", page)
    if tag is None:
        raise SystemExit("static/demo/index.html lost its <py-script> tag")
    mpy = tag.group(1).replace("/vendor/pyodide/pyodide.mjs", "/vendor/micropython/micropython.mjs")
    variants = {
        "script.html": ('<script type="py" ' + tag.group(1) + "></script>", 'script type="py"'),
        "mpy.html": ('<script type="mpy" ' + mpy + "></script>", 'script type="mpy", MicroPython'),
    }
    pages = {}
    for name, (replacement, label) in variants.items():
        variant = page.replace(tag.group(0), replacement)
        variant = variant.replace(
            "<title>masivo_web demo shop</title>",
            f"<title>masivo_web demo shop ({label})</title>\n  "
            "<!-- generated from index.html by tools/browser_assets.py: edit that file -->",
        )
        pages[name] = variant.replace(
            "loading Pyodide…", "loading MicroPython…" if "mpy" in name else "loading Pyodide…"
        )
    return pages


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pyodide_core() -> None:
    source = NODE_MODULES / "pyodide"
    target = VENDOR / "pyodide"
    target.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        copy_if_changed(source / name, target / name)
    lock = json.loads((source / "pyodide-lock.json").read_text())
    for name in LOCK_WHEELS:
        entry = lock["packages"][name]
        wheel = target / entry["file_name"]
        if not wheel.exists():
            python = lock["info"]["python"].rsplit(".", 1)[0]
            pip_download(target, python, f"{name}=={entry['version']}")
        entry["sha256"] = sha256(wheel)
    patched = json.dumps(lock, separators=(",", ":"))
    lock_path = target / "pyodide-lock.json"
    if not lock_path.exists() or lock_path.read_text() != patched:
        lock_path.write_text(patched)


def pyodide_test_wheels() -> None:
    PYODIDE_TEST_WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    have = {
        path.name.split("-")[0].lower() + "==" + path.name.split("-")[1]
        for path in PYODIDE_TEST_WHEEL_DIR.glob("*.whl")
    }
    missing = [spec for spec in PYODIDE_TEST_WHEELS if spec.lower() not in have]
    if missing:
        pip_download(PYODIDE_TEST_WHEEL_DIR, "3.14", *missing)


def pyscript() -> None:
    source = NODE_MODULES / "@pyscript" / "core" / "dist"
    target = VENDOR / "pyscript"
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith(".map"):
            copy_if_changed(path, target / path.name)


#: The MicroPython build PyScript pages load for ``type="mpy"`` (the plain one: no ulab).
MICROPYTHON_FILES = ("micropython.mjs", "micropython.wasm")


def micropython() -> None:
    source = NODE_MODULES / "@micropython" / "micropython-webassembly-pyscript"
    target = VENDOR / "micropython"
    target.mkdir(parents=True, exist_ok=True)
    for name in MICROPYTHON_FILES:
        copy_if_changed(source / name, target / name)


def masivo_wheel() -> Path:
    """The full wheel (as on PyPI) in dist/, and the page's wheel built from it in vendor."""
    target = VENDOR / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    olds = [*target.glob("masivo_web-*.whl"), *target.glob("masivo_web-*.tar.gz")]
    for old in [*olds, *DIST.glob("masivo_web-*.whl")]:
        old.unlink()
    DIST.mkdir(exist_ok=True)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(DIST),
        str(ROOT),
    )
    (full,) = DIST.glob("masivo_web-*.whl")
    wheel = page_wheel.build(full, target)
    precompiled = page_archives.precompile(wheel, target, NODE_MODULES / "pyodide")
    micropython_wheel = bytecode.precompile_mpy(wheel, target)
    # A worker's main-thread module, beside the wheel (as the bundle serves it).
    from masivo_web.browser.main_thread import FILE_NAME, module_file

    (target / FILE_NAME).write_text(module_file())
    # What pages load: each build as one archive, shipped through PyScript's `files`.
    built = {"wheel": wheel, "precompiled": precompiled, "mpy": micropython_wheel}
    archives = {kind: page_wheel.archive(path, target).name for kind, path in built.items()}
    # Pages read the current names from here instead of hard-coding the version.
    (target / "latest.json").write_text(
        json.dumps({**{kind: path.name for kind, path in built.items()}, "archives": archives})
    )
    return wheel


def copy_if_changed(source: Path, target: Path) -> None:
    if (
        target.exists()
        and target.stat().st_size == source.stat().st_size
        and (target.stat().st_mtime >= source.stat().st_mtime)
    ):
        return
    shutil.copy2(source, target)


def main() -> int:
    if shutil.which("npm") is None:
        print(
            "npm is needed to install Pyodide and PyScript (apt-get install -y npm).",
            file=sys.stderr,
        )
        return 2
    npm_packages()
    pyodide_core()
    pyscript()
    micropython()
    demo_variants()
    pyodide_test_wheels()
    wheel = masivo_wheel()
    print(f"browser assets ready in {VENDOR.relative_to(ROOT)} ({wheel.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
