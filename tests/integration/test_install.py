"""The README's install line, as a user outside this checkout runs it: the built wheel into a
fresh virtual environment (no dependencies to fetch), then a script that sends an event to an
emulator with it."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from masivo_web import SyncClient
import masivo_web
assert "site-packages" in masivo_web.__file__, masivo_web.__file__
with SyncClient(sys.argv[1], auth_url=sys.argv[2], api_base=sys.argv[3]) as masivo:
    print(masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
          .result(timeout=20).status)
"""


def test_the_built_wheel_installs_alone_and_sends(
    tmp_path: Path, fresh_masivo_emulator: EmulatorServer
) -> None:
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"^pip install (dist/\S+\.whl) ", readme, re.M)
    assert line is not None, "the README lost its install line"
    build = tmp_path / "build"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(build / "dist"), str(ROOT)],
        check=True,
    )
    environment = tmp_path / "env"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", line.group(1)],
        cwd=build,  # the README's relative path, from a folder holding dist/
        check=True,
    )
    emulator = fresh_masivo_emulator
    sent = subprocess.run(
        [str(python), "-c", SCRIPT, emulator.client_key, emulator.auth_url, emulator.api_base],
        cwd=tmp_path,  # not the checkout: the installed package, not the source tree
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "201"
