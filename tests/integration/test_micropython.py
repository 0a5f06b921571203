"""The SDK under MicroPython (PyScript's build, in Node): the checks of tests/micropython run
against the package as a page gets it (types erased by tools/erase.py), one pytest test
per check. See tools/micropython_node/run_checks.mjs."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from masivo_web.devtools.page_build import erase
from masivo_web.devtools.page_build import wheel as page_build

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ROOT / "tests" / "micropython"
RUNNER = ROOT / "tools" / "micropython_node" / "run_checks.mjs"


def _check_names() -> list[str]:
    names = []
    for path in sorted(CHECKS.glob("checks_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("check_"):
                names.append(node.name)
    return names


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("node") is None:
        pytest.fail("node is needed for the MicroPython checks (make test installs it)")
    package = ROOT / "masivo_web"
    sources = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in package.rglob("*.py")
        if not path.relative_to(ROOT).as_posix().startswith(page_build.EXCLUDED)
    }
    page = tmp_path_factory.mktemp("page")
    for name, text in erase.page_sources(sources).items():
        (page / name).parent.mkdir(parents=True, exist_ok=True)
        (page / name).write_text(text, encoding="utf-8")
    run = subprocess.run(
        ["node", str(RUNNER), str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert re.search(r"^DONE \d+ \d+$", run.stdout, re.M), output[-3000:]
    # MicroPython prints this for every `raise ... from exc`: the package must not cause it.
    assert "chaining not supported" not in output
    found = {}
    for line in run.stdout.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("PASS", "FAIL"):
            name, _, reason = rest.partition(": ")
            found[name] = reason if verdict == "FAIL" else ""
    found["(output)"] = output
    return found


@pytest.mark.parametrize("name", _check_names())
def test_under_micropython(results: dict[str, str], name: str) -> None:
    assert name in results, "the check did not run:\n" + results["(output)"][-3000:]
    assert results[name] == "", results[name]


def test_every_check_module_is_run_by_the_harness() -> None:
    harness = (CHECKS / "harness.py").read_text(encoding="utf-8")
    for path in CHECKS.glob("checks_*.py"):
        assert f'"{path.stem}"' in harness, path.name
