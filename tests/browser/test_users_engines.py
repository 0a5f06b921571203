"""A user's own Playwright tests of their PyScript page run in Chromium, Firefox and WebKit, as
the README's "Test your own page" tells: its example test, its ``conftest.py`` and its pytest
line, in a project of their own (no file of this repository's test setup), on this machine
where Playwright's own browsers are not installed (the plugin's ``masivo_browser`` launches the
system's)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.browser.conftest import ROOT

README = (ROOT / "README.md").read_text()


def readme_block(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)```", README, re.S)
    assert found is not None, f"the README lost its {marker} block"
    return found.group(1)


def test_the_readme_example_runs_in_the_three_engines_from_a_users_project(
    tmp_path: Path,
) -> None:
    project = tmp_path / "shop"
    (project / "tests" / "browser").mkdir(parents=True)
    example = (ROOT / "tests" / "browser" / "test_readme_example.py").read_text()
    (project / "tests" / "browser" / "test_readme_example.py").write_text(example)
    (project / "static").symlink_to(ROOT / "static")  # the example's SITE: the shop's pages
    (project / "conftest.py").write_text(readme_block("users' conftest", "python"))
    (command,) = [
        line for line in readme_block("users' engines", "sh").splitlines() if "pytest " in line
    ]
    arguments = shlex.split(command)
    assert arguments[0] == "pytest"
    environment = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-downloads")}
    result = subprocess.run(
        [sys.executable, "-m", *arguments, "-p", "no:cacheprovider", "-v"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for engine in ("chromium", "firefox", "webkit"):
        assert f"test_add_to_cart_reaches_masivo[{engine}] PASSED" in output, output[-4000:]
