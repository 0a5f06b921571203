"""masivo_web under CPython: events enqueued per second, and events the emulator stores."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from typing import Any

from common import EVENT

from masivo_web import create_client


def cpython_enqueue(runs: int) -> list[float]:
    """Events per second one process enqueues (validate, id, timestamp, context, queue)."""
    from masivo_web.rules.http import Response
    from masivo_web.transports import MockTransport

    def answer(request: Any) -> Response:
        return Response(200, body=b'{"data": "token"}')

    async def run() -> float:
        client = create_client("k", transport=MockTransport(answer))
        count = 9_000  # under the memory bound: nothing is sent while this loop runs
        started = time.perf_counter()
        for _ in range(count):
            client.send_analytics_event(EVENT)
        elapsed = time.perf_counter() - started
        client.opt_out()  # drops the queue quietly: nothing is sent, nothing logged
        client.destroy()
        return count / elapsed

    return [asyncio.run(run()) for _ in range(runs)]


def emulator_ingest(runs: int) -> list[float]:
    """Events per second the emulator stores, run as it is deployed (``python -m masivo_web
    emulator``, a process of its own: not sharing a GIL with the sender), sent by the SDK in
    batches of 100. Timed from ``flush()`` to the last acknowledgement: the enqueueing before
    it is measured apart (``cpython_enqueue``)."""
    from masivo_web.emulator.client import EmulatorClient
    from masivo_web.emulator.store import DEFAULT_CLIENT_KEY

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "masivo_web", "emulator", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--rate-limit", "100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    control = EmulatorClient(url)

    async def run() -> float:
        control.reset()
        client = create_client(DEFAULT_CLIENT_KEY, auth_url=f"{url}/auth/authorize", api_base=url)
        await client.get_token()
        count = 10_000
        for _ in range(count):
            client.send_analytics_event(EVENT)
        started = time.perf_counter()
        await client.flush()
        elapsed = time.perf_counter() - started
        client.destroy()
        assert control.stats()["stored"] == count
        return count / elapsed

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                control.stats()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the emulator did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        return [asyncio.run(run()) for _ in range(runs)]
    finally:
        server.terminate()
        server.wait(timeout=10)
