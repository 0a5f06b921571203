"""A process that forks after its client exists (gunicorn ``--preload``, uWSGI without
lazy-apps, ``multiprocessing`` with fork), with real ``os.fork`` in a real process against the
real emulator (issue: field conditions, item 2): each child's SyncClient works, the parent's
queued events are sent once (by the parent), and a client that cannot work says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]

PRELOADED_SYNC_CLIENT = textwrap.dedent(
    """
    import json, os, sys
    from masivo_web import SyncClient
    auth_url, api_base, key, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    # Made at import, in the master, as gunicorn --preload does; its events wait for a batch.
    masivo = SyncClient(key, auth_url=auth_url, api_base=api_base, idle_flush_s=30)
    for n in range(5):
        masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"master-{n}", brand_id=None)
    children = []
    for worker in range(workers):
        pid = os.fork()
        if pid == 0:
            if worker == 0:
                masivo.get_token()  # the child's first call: not a send
            futures = [
                masivo.send_analytics_event(
                    type="ADD_TO_CART", customer_id=f"w{worker}-{n}", brand_id=None
                )
                for n in range(10)
            ]
            flushed = masivo.flush(timeout_s=20)
            statuses = [future.result(timeout=5).status for future in futures]
            closed = masivo.close(timeout_s=10)
            os._exit(0 if flushed and closed and statuses == [201] * 10 else 3)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print(json.dumps({"codes": codes, "master_closed": bool(masivo.close(timeout_s=20))}))
    """
)

PRELOADED_ASYNC_CLIENT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from masivo_web import MasivoConfigError, create_client
    auth_url, api_base, key = sys.argv[1], sys.argv[2], sys.argv[3]
    masivo = create_client(key, auth_url=auth_url, api_base=api_base)
    pid = os.fork()
    if pid == 0:
        async def child():
            try:
                masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c", brand_id=None)
            except MasivoConfigError as error:
                print(json.dumps({"error": str(error)}), flush=True)
            # A client made in the child works.
            async with create_client(key, auth_url=auth_url, api_base=api_base) as fresh:
                result = await fresh.send_analytics_event(
                    type="ADD_TO_CART", customer_id="child", brand_id=None
                )
            print(json.dumps({"child": result.status}), flush=True)
        asyncio.run(child())
        os._exit(0)
    os.waitpid(pid, 0)
    """
)


def run_script(script: str, emulator: EmulatorServer, *extra: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            emulator.auth_url,
            emulator.api_base,
            emulator.client_key,
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_a_sync_client_made_before_fork_works_in_every_child_and_sends_once(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    (line,) = run_script(PRELOADED_SYNC_CLIENT, emulator, "3")
    result = json.loads(line)
    assert result == {"codes": [0, 0, 0], "master_closed": True}
    events = emulator.control.received_events()
    customers = Counter(event["customer_id"] for event in events)
    workers = {f"w{w}-{n}" for w in range(3) for n in range(10)}
    expected = {f"master-{n}" for n in range(5)} | workers
    assert set(customers) == expected
    assert set(customers.values()) == {1}  # the master's queued events were not sent by a child
    assert len({event["event_id"] for event in events}) == len(events) == 35


def test_an_async_client_made_before_fork_says_so_in_the_child(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    error, child = (json.loads(line) for line in run_script(PRELOADED_ASYNC_CLIENT, emulator))
    assert "before the process forked" in error["error"]
    assert "Create the client in each worker" in error["error"]
    assert child == {"child": 201}
    assert [event["customer_id"] for event in emulator.control.received_events()] == ["child"]
