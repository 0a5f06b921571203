"""The pytest plugin as a user's suite meets it: a suite of its own, run by pytest in a process of
its own, with the plugin found through its entry point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.emulator

#: A key refused in one test (and its client never closed), registered and used in the next.
SUITE = textwrap.dedent(
    """
    import asyncio

    import pytest

    from masivo_web import MasivoAuthError, create_client

    EVENT = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}


    def send(emulator):
        async def main():
            masivo = create_client(
                "late-key", auth_url=emulator.auth_url, api_base=emulator.api_base
            )
            return (await masivo.send_analytics_event(EVENT)).status

        return asyncio.run(main())


    def test_an_unknown_key_is_refused(fresh_masivo_emulator):
        with pytest.raises(MasivoAuthError):
            send(fresh_masivo_emulator)


    def test_the_same_key_once_registered_works(fresh_masivo_emulator):
        fresh_masivo_emulator.control.add_key("late-key", "client")
        assert send(fresh_masivo_emulator) == 201
    """
)


def test_each_test_starts_with_the_sdks_memory_of_keys_forgotten(tmp_path: Path) -> None:
    (tmp_path / "test_user_suite.py").write_text(SUITE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user_suite.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
