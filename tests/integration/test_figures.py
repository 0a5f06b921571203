"""The sizes the README and docs/runtimes.md give for what a page downloads are the sizes of the
files the build wrote (``static/vendor/wheels/``, made by ``make test``'s asset step), within
the few percent a "~" allows: a figure typed once and left to drift fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / "static" / "vendor" / "wheels"
#: How far a "~N KB" may be from the file's size.
TOLERANCE = 0.05


def built() -> dict[str, int]:
    """Bytes of each page build, by the names used below."""
    latest = WHEELS / "latest.json"
    if not latest.exists():
        pytest.fail("The page builds are missing: run `make test` (or tools/browser_assets.py).")
    names = json.loads(latest.read_text())
    sizes = {
        kind: (WHEELS / names[kind]).stat().st_size for kind in ("wheel", "mpy", "precompiled")
    }
    for kind, name in names["archives"].items():
        sizes[f"{kind} archive"] = (WHEELS / name).stat().st_size
    return sizes


#: (file, a pattern whose groups are "~N KB" figures, the builds they name in order)
FIGURES = [
    ("README.md", r"as one archive \(~(\d+) KB", ["wheel archive"]),
    ("README.md", r"`wheels/` \(the page archive, ~(\d+) KB", ["wheel archive"]),
    (
        "README.md",
        r"\| the SDK's archive \| ~(\d+) KB \| the same \(~(\d+) KB `\.mpy`\) \|",
        ["wheel archive", "mpy archive"],
    ),
    (
        "README.md",
        r"for ~(\d+) KB instead of ~(\d+) KB \(`bundle --precompiled`",
        ["mpy archive", "wheel archive"],
    ),
    (
        "README.md",
        r"the page downloads ~(\d+) KB instead of ~(\d+) KB",
        ["precompiled archive", "wheel archive"],
    ),
    (
        "docs/runtimes.md",
        r"`masivo_web-[\d.]+\+page\.tar\.gz`, ~(\d+) KB \| `…\+page-py3-none-any\.whl`, ~(\d+) KB",
        ["wheel archive", "wheel"],
    ),
    (
        "docs/runtimes.md",
        r"`masivo_web-[\d.]+\+page-cp314\.tar\.gz`, ~(\d+) KB \| `…\+page-cp314-none-any\.whl`, "
        r"~(\d+) KB",
        ["precompiled archive", "precompiled"],
    ),
    (
        "docs/runtimes.md",
        r"`masivo_web-[\d.]+\+page-mpy63\.tar\.gz`, ~(\d+) KB \| `…\+page-mpy63-none-any\.whl`, "
        r"~(\d+) KB",
        ["mpy archive", "mpy"],
    ),
]


@pytest.mark.parametrize(("path", "pattern", "builds"), FIGURES)
def test_a_size_in_the_docs_is_the_built_files(path: str, pattern: str, builds: list[str]) -> None:
    found = re.search(pattern, (ROOT / path).read_text())
    assert found is not None, f"{path} no longer says {pattern!r}: update FIGURES with it"
    sizes = built()
    for figure, build in zip(found.groups(), builds, strict=True):
        actual = sizes[build] / 1000
        assert abs(int(figure) - actual) <= TOLERANCE * actual, (
            f"{path} says ~{figure} KB for the {build}, which is {actual:.1f} KB"
        )
