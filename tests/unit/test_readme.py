"""The README shows what the project really runs."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("page", ["index.html", "mpy.html"])
def test_the_pyscript_snippets_are_the_ones_the_demo_uses(page: str) -> None:
    # mpy.html (MicroPython) is generated from index.html by tools/browser_assets.py: made
    # here the same way, so a fresh clone's unit run needs no asset step.
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from browser_assets import variant_pages
    finally:
        sys.path.remove(str(ROOT / "tools"))
    html = (ROOT / "static" / "demo" / "index.html").read_text()
    if page != "index.html":
        html = variant_pages(html)[page]
    found = re.search(
        r"<!-- masivo_web snippet: start -->\n(.*?)\n\s*<!-- masivo_web snippet: end -->",
        html,
        re.S,
    )
    assert found is not None
    snippet = textwrap.dedent(found.group(1))
    assert f"```html\n{snippet}\n```" in README


def test_the_user_page_example_is_the_test_that_runs() -> None:
    example = (ROOT / "tests" / "browser" / "test_readme_example.py").read_text().rstrip()
    assert f"```python\n{example}\n```" in README


def test_the_two_commands_are_the_makefile_targets_ci_runs() -> None:
    commands = re.findall(r"^make (\w+)", README, re.M)
    assert commands == ["demo", "test"]
    assert "exec make test" in (ROOT / ".ci" / "run").read_text()


def test_the_served_files_list_names_the_pinned_versions() -> None:
    import json

    pins = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for name, version in pins.items():
        assert f"`{name}` {version}" in README, name
