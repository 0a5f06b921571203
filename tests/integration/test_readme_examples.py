"""The README's runnable examples run as written, against the emulator, found the way the
README tells users: ``MASIVO_AUTH_URL`` and ``MASIVO_API_BASE`` in the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = re.findall(
    r"<!-- runnable -->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S
)


def printed_results(code: str) -> list[str]:
    """What an example says it prints, in its ``# ...`` comments (statuses, booleans)."""
    return re.findall(r"# (True \d+|\d{3}|True|False \{.*\})$", code, re.M)


def test_the_readme_has_runnable_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{n}" for n in range(len(EXAMPLES))])
def test_readme_example_runs_as_written(
    code: str,
    fresh_masivo_emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.add_key("your-client-api-key", "client")
    # What the README tells a user to do: point the SDK at the emulator from the environment.
    monkeypatch.setenv("MASIVO_AUTH_URL", emulator.auth_url)
    monkeypatch.setenv("MASIVO_API_BASE", emulator.api_base)
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    for expected in printed_results(code):
        assert expected in printed, (expected, printed)
    assert emulator.control.received_events(), "the example sent nothing"


#: The README's recipe for running an example against a local emulator.
RECIPE = re.search(
    r"without editing the code.*?\n```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S
)


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{n}" for n in range(len(EXAMPLES))])
def test_the_readme_recipe_runs_each_example_as_printed(code: str, tmp_path: Path) -> None:
    # As a user would: the example saved as your_script.py, the recipe's lines run by a shell
    # (the emulator as the command line starts it, with its own keys), nothing registered.
    assert RECIPE is not None, "the README lost its recipe"
    (tmp_path / "your_script.py").write_text(code)
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the recipe's .venv/bin/python
    environment = {**os.environ, "PATH": f"{sys.prefix}/bin:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", RECIPE.group(1) + "status=$?\nkill %1\nwait\nexit $status\n"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused" not in result.stderr, result.stderr
    for expected in printed_results(code):
        assert expected in result.stdout, (expected, result.stdout)
