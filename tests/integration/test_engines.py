"""The engines' launch checks: a Firefox that this Playwright cannot drive is refused before any
test runs, with the versions to pair (a mismatch otherwise fails at every new context with a
protocol error that names neither)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from masivo_web.devtools import browser_settings
from masivo_web.devtools.engines import firefox_pairing


def test_the_installed_firefox_is_the_one_playwright_speaks_to() -> None:
    assert firefox_pairing(browser_settings.load().FIREFOX_EXECUTABLE) == ""


def test_another_firefox_is_refused_naming_both_versions(tmp_path: Path) -> None:
    older = tmp_path / "firefox"
    older.write_text("#!/bin/sh\necho 'Mozilla Firefox 140.12.0esr'\n")
    older.chmod(0o755)
    problem = firefox_pairing(str(older))
    assert f"Playwright {version('playwright')} drives Firefox 153.0" in problem
    assert "Mozilla Firefox 140.12.0esr" in problem and "pair them" in problem


def test_a_missing_firefox_says_how_to_install_it(tmp_path: Path) -> None:
    problem = firefox_pairing(str(tmp_path / "nowhere"))
    assert "apt-get install -y firefox-esr" in problem and "MASIVO_FIREFOX" in problem
