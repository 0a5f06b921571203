"""Servers that stop their workers (issue: field conditions, item 4): real uvicorn and gunicorn
processes serving the README's FastAPI and Flask patterns, under load, stopped with SIGTERM:
every event an app accepted reaches the emulator, once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def app_environment(emulator: EmulatorServer, **env: str) -> dict[str, str]:
    """What the apps read: this checkout, and the emulator's URLs and key."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MASIVO_AUTH_URL": emulator.auth_url,
        "MASIVO_API_BASE": emulator.api_base,
        "MASIVO_TEST_KEY": emulator.client_key,
        **env,
    }


def start(
    command: list[str], emulator: EmulatorServer, port: int, **env: str
) -> subprocess.Popen[str]:
    environment = app_environment(emulator, **env)
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.05)
    server.kill()
    pytest.fail(f"the server did not start: {server.communicate()[0][-3000:]}")


def load_then_sigterm(server: subprocess.Popen[str], port: int, requests: int = 400) -> set[str]:
    """Post ``requests`` tracking requests from 8 threads; SIGTERM the server after a quarter
    were answered. Returns the customers whose request was answered 200 (accepted events)."""
    accepted: set[str] = set()
    lock = threading.Lock()
    stopped = threading.Event()

    def post(n: int) -> None:
        customer = f"c-{n}"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/cart/{customer}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                ok = answer.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return  # refused once the server stops: never accepted
        if ok:
            with lock:
                accepted.add(customer)
                if len(accepted) == requests // 4 and not stopped.is_set():
                    stopped.set()
                    server.send_signal(signal.SIGTERM)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(requests)))
    output, _ = server.communicate(timeout=60)
    assert stopped.is_set(), output[-3000:]
    return accepted


def delivered(emulator: EmulatorServer) -> Counter[str]:
    return Counter(event["customer_id"] for event in emulator.control.received_events())


def need(program: str) -> str:
    path = BIN / program
    if not path.exists():
        found = shutil.which(program)
        if found is None:
            pytest.fail(f"{program} is missing: `make test` installs the dev extra.")
        return found
    return str(path)


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_stopped_with_sigterm_under_load_delivers_every_event(
    fresh_masivo_emulator: EmulatorServer, workers: int
) -> None:
    emulator, port = fresh_masivo_emulator, free_port()
    command = [need("uvicorn"), "tests.servers.asgi_app:app", "--port", str(port)]
    server = start([*command, "--workers", str(workers)], emulator, port)
    accepted = load_then_sigterm(server, port)
    stored = delivered(emulator)
    assert set(stored) == accepted and set(stored.values()) == {1}


LOOP_WORKER = """
import asyncio, os, signal, sys
from masivo_web import create_client

async def main():
    masivo = create_client(os.environ["MASIVO_TEST_KEY"], idle_flush_s=30)  # never closed
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    for n in range(200):
        masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"c-{n}", brand_id=None)
    print("ready", flush=True)
    await stop.wait()  # a worker that ends its event loop on SIGTERM

asyncio.run(main())
"""


def test_a_worker_that_forgets_close_still_delivers_when_its_loop_ends_on_sigterm(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    """What the SDK does itself: when the event loop ends under a client nobody closed
    (asyncio.run cancels every task), it sends what it holds, and says so. (uvicorn instead
    ends the process with the signal before its loop ends: there, only the lifespan's close()
    sends; the README says so.)"""
    emulator = fresh_masivo_emulator
    worker = subprocess.Popen(
        [sys.executable, "-c", LOOP_WORKER],
        env=app_environment(emulator),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    worker.send_signal(signal.SIGTERM)
    _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors[-3000:]
    stored = delivered(emulator)
    assert len(stored) == 200 and set(stored.values()) == {1}
    assert "a client that was never closed holds 200 event(s)" in errors


def test_gunicorn_preload_stopped_with_sigterm_under_load_delivers_every_event(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator, port = fresh_masivo_emulator, free_port()
    command = [
        need("gunicorn"),
        "--preload",
        "--workers",
        "2",
        "--threads",
        "4",
        "--bind",
        f"127.0.0.1:{port}",
        "tests.servers.wsgi_app:app",
    ]
    server = start(command, emulator, port)
    accepted = load_then_sigterm(server, port)
    stored = delivered(emulator)
    assert set(stored) == accepted and set(stored.values()) == {1}
