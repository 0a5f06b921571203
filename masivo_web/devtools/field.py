"""The "field" part of ``make reliability``: conditions real deployments meet that no fault
injection models, each made for real against the emulator over loopback.

- a device clock minutes to days off (a real CPython process under Debian's libfaketime, its
  monotonic clock left alone), and a service whose clock is off (the emulator's own clock);
- a process that forks after its client exists (a preloaded ``SyncClient``, real ``os.fork``).

Each row counts what was sent, stored once, stored twice, the authorize requests of the run
(one per process: a token lasts, and is refreshed every 5 minutes; a wrong clock used to cost
thousands in seconds), and what Masivo refused (``issued_at`` out of its window).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..emulator.server import EmulatorServer

#: The package's parent: what a child process puts on its path to import this masivo_web.
_ROOT = str(Path(__file__).resolve().parents[2])

_CLOCK_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from masivo_web import SyncClient
    auth_url, api_base, key, count, seconds = sys.argv[1:6]
    pause = threading.Event()  # time.sleep fails under libfaketime with a real monotonic clock
    with SyncClient(key, auth_url=auth_url, api_base=api_base, batch_size=10) as masivo:
        for n in range(int(count)):
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"c-{n}", brand_id=None)
            pause.wait(float(seconds) / int(count))
        masivo.flush(timeout_s=30)
    """
)

_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from masivo_web import SyncClient
    auth_url, api_base, key, count = sys.argv[1:5]
    masivo = SyncClient(key, auth_url=auth_url, api_base=api_base, idle_flush_s=30)
    for n in range(int(count) // 4):
        masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"m-{n}", brand_id=None)
    children = []
    for worker in range(3):
        pid = os.fork()
        if pid == 0:
            for n in range(int(count) // 4):
                masivo.send_analytics_event(
                    type="ADD_TO_CART", customer_id=f"w{worker}-{n}", brand_id=None
                )
            masivo.close(timeout_s=30)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    masivo.close(timeout_s=30)
    """
)


@dataclass
class FieldRow:
    """One condition's counts."""

    condition: str
    sent: int
    stored_once: int
    stored_twice: int
    refused: int
    authorize: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.stored_once == self.sent and self.stored_twice == 0 and self.refused == 0


def _count(emulator: EmulatorServer, sent: int, condition: str, seconds: float) -> FieldRow:
    copies = Counter(event["event_id"] for event in emulator.control.received_events())
    requests = emulator.control.requests()
    authorize = sum(1 for request in requests if request["route"] == "authorize")
    refused = sum(
        1 for request in requests if request["route"] == "analytics" and request["status"] == 422
    )
    return FieldRow(
        condition,
        sent,
        sum(1 for count in copies.values() if count == 1),
        sum(1 for count in copies.values() if count > 1),
        refused,
        authorize,
        seconds,
    )


def _run(emulator: EmulatorServer, script: str, *args: str, wrap: list[str] | None = None) -> None:
    environment = {**os.environ, "PYTHONPATH": _ROOT, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    command = [*(wrap or []), sys.executable, "-c", script]
    command += [emulator.auth_url, emulator.api_base, emulator.client_key, *args]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the field scenario failed: {done.stderr[-2000:]}")


def run_field(events: int, seconds: float) -> list[FieldRow]:
    """Every field condition, ``events`` events each, paced over ``seconds`` for the clocks."""
    faketime = shutil.which("faketime")
    if faketime is None:
        raise RuntimeError("the field part needs libfaketime: apt-get install faketime")
    rows = []
    with EmulatorServer() as emulator:
        for offset in ("+10m", "+2h", "-80h", "+3d"):
            emulator.control.reset()
            started = time.monotonic()
            wrap = [faketime, "-f", offset]
            _run(emulator, _CLOCK_SCRIPT, str(events), str(seconds), wrap=wrap)
            took = time.monotonic() - started
            rows.append(_count(emulator, events, f"device clock {offset}", took))
        for hours in (-3, 26):
            emulator.control.reset()
            emulator.control.update_settings(clock_offset_s=hours * 3600.0)
            started = time.monotonic()
            _run(emulator, _CLOCK_SCRIPT, str(events), str(seconds))
            took = time.monotonic() - started
            rows.append(_count(emulator, events, f"Masivo's clock {hours:+d} h", took))
        emulator.control.reset()
        started = time.monotonic()
        _run(emulator, _FORK_SCRIPT, str(events))
        sent = events // 4 * 4
        took = time.monotonic() - started
        rows.append(_count(emulator, sent, "fork: preloaded SyncClient, 3 children", took))
    return rows


def field_report(rows: list[FieldRow]) -> str:
    header = (
        f"{'field condition':<42} {'sent':>5} {'stored once':>11} {'stored twice':>12} "
        f"{'refused':>7} {'authorize':>9} {'secs':>5}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.condition:<42} {row.sent:>5} {row.stored_once:>11} {row.stored_twice:>12} "
            f"{row.refused:>7} {row.authorize:>9} {row.seconds:>5.1f}"
        )
    failing = [row.condition for row in rows if not row.ok]
    lines.append(f"FAILED for {failing}" if failing else "OK: every field event stored once.")
    return "\n".join(lines)


def main(events: int, seconds: float) -> bool:
    rows = run_field(events, seconds)
    print(field_report(rows))
    return all(row.ok for row in rows)
