"""A real process whose wall clock is off (Debian's libfaketime, monotonic clock left alone), and
a real emulator whose clock is off, over real sockets: every event stored once, inside Masivo's
``issued_at`` window by the emulator's clock, with one authorize (issue: field conditions)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 40

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    from masivo_web import SyncClient
    pause = threading.Event()  # time.sleep fails (EINVAL) under libfaketime 0.9.10 with a real
    # monotonic clock; the SDK never calls it, and waits on a threading.Event work
    auth_url, api_base, key, count = sys.argv[1:5]
    device_start = time.time()
    with SyncClient(key, auth_url=auth_url, api_base=api_base, batch_size=10) as masivo:
        for n in range(int(count)):
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"c-{n}", brand_id=None)
            pause.wait(0.02)
        sent = masivo.flush(timeout_s=20)
    print(json.dumps({"device_start": device_start, "flushed": sent}))
    """
)


def faketime() -> str:
    path = shutil.which("faketime")
    if path is None:
        pytest.fail("libfaketime is missing: `make test` installs it (apt: faketime).")
    return path


def run_with_clock(emulator: EmulatorServer, offset: str) -> dict[str, float]:
    """Run SCRIPT with the process's wall clock moved by ``offset`` (faketime's "+2h")."""
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MASIVO_AUTH_URL", None)
    args = [emulator.auth_url, emulator.api_base, emulator.client_key, str(EVENTS)]
    done = subprocess.run(
        [faketime(), "-f", offset, sys.executable, "-c", SCRIPT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def stored_times(emulator: EmulatorServer) -> list[float]:
    return [
        datetime.fromisoformat(event["issued_at"].replace("Z", "+00:00")).timestamp()
        for event in emulator.control.received_events()
    ]


@pytest.mark.parametrize("offset", ["+10m", "+2h", "-80h", "+3d", "-7m"])
def test_a_process_with_a_wrong_clock_delivers_every_event_in_time(
    fresh_masivo_emulator: EmulatorServer, offset: str
) -> None:
    emulator = fresh_masivo_emulator
    started = time.time()
    result = run_with_clock(emulator, offset)
    ended = time.time()
    assert result["flushed"] is True
    assert abs(result["device_start"] - started) > 300  # the clock really was moved
    times = stored_times(emulator)
    assert len(times) == EVENTS
    assert all(started - 1.5 <= moment <= ended for moment in times)
    assert len(emulator.control.requests(route="authorize")) == 1


@pytest.mark.parametrize("service_offset_s", [-3 * 3600.0, 26 * 3600.0])
def test_a_service_whose_clock_is_off_gets_its_own_time(
    fresh_masivo_emulator: EmulatorServer, service_offset_s: float
) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.update_settings(clock_offset_s=service_offset_s)
    started = time.time() + service_offset_s
    result = run_with_clock(emulator, "+0")
    ended = time.time() + service_offset_s
    assert result["flushed"] is True
    times = stored_times(emulator)
    assert len(times) == EVENTS
    assert all(started - 1.5 <= moment <= ended for moment in times)
    assert len(emulator.control.requests(route="authorize")) == 1
