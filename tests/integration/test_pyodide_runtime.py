"""Runtime parity: the unit tests of the core also pass inside Pyodide under Node, on the
WebLoop (offline: pyodide from npm, pytest from PyPI wheels; see tools/pyodide_node)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tools" / "pyodide_node" / "run_unit_tests.mjs"


def test_the_unit_tests_pass_inside_pyodide() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is needed to run Pyodide outside the browser (apt-get install nodejs)."
        )
    result = subprocess.run(
        [node, "--experimental-wasm-stack-switching", str(RUNNER), "-rs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    summary = re.search(r"(\d+) passed(?:, (\d+) skipped)? in", output)
    assert result.returncode == 0, output[-3000:]
    assert summary is not None, output[-3000:]
    passed, skipped = int(summary.group(1)), int(summary.group(2) or 0)
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "tests/unit",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = int(re.search(r"(\d+) tests? collected", collected).group(1))  # type: ignore[union-attr]
    assert passed + skipped == total  # every unit test ran there
    # Only the ones that cannot exist on Emscripten (reasons in -rs): no "no event loop" (3), no
    # fresh process to import in (2), no fork().
    assert skipped <= 6, output
    assert "platform emscripten" in output or "on emscripten" in output
