"""The command line: mistakes get one line saying which flag to change, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.emulator


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "masivo_web", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("emulator", "--port", "70000"), "--port: 70000 is not a port"),
        (("emulator", "--port", "http"), "--port: 'http' is not a port number"),
        (("emulator", "--db", "/nonexistent/folder/x.sqlite3"), "cannot open --db"),
        (("demo", "--api-port", "-1"), "--api-port: -1 is not a port"),
        (("emulator", "--token-ttl", "0"), "--token-ttl: 0 is not a positive number"),
        (("emulator", "--token-ttl", "-5"), "--token-ttl: -5 is not a positive number"),
        (("emulator", "--rate-limit", "0"), "--rate-limit: 0 is not a whole number of at least 1"),
        (("emulator", "--rate-limit", "2.5"), "--rate-limit: '2.5' is not a whole number"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(arguments: tuple[str, ...], says: str) -> None:
    result = run(*arguments)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_said_before_any_banner() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("emulator", "--port", str(busy.getsockname()[1]))
    assert result.returncode == 2
    assert "Choose another --port" in result.stderr
    assert result.stdout == ""  # no banner for a server that never started
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["emulator", "demo", "reliability"])
def test_help_shows_every_default_in_plain_text(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "``" not in result.stdout
    assert "(default: " in result.stdout
    top = run("--help").stdout
    assert "``" not in top and "emulator" in top


def test_the_demo_takes_a_free_port_when_its_usual_one_is_busy() -> None:
    from masivo_web.devtools.demo import pick_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert pick_port(taken) == 0  # 0: the server takes any free port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert pick_port(free) == free


def test_listening_on_every_interface_prints_urls_a_client_can_use(tmp_path: Path) -> None:
    emulator = subprocess.Popen(
        [sys.executable, "-m", "masivo_web", "emulator", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # its database file goes here
    )
    try:
        assert emulator.stdout is not None
        banner = [emulator.stdout.readline() for _ in range(4)]
        auth_url = next(line for line in banner if "auth_url" in line).split(" = ")[1].strip()
        assert auth_url.startswith("http://127.0.0.1:"), banner
        assert "0.0.0.0" not in "".join(banner)
        request = urllib.request.Request(auth_url, headers={"x-api-key": "nope"})
        assert _status(request) == 401  # the printed URL reaches the emulator, which answers
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)  # and closes its stdout


def _status(request: urllib.request.Request) -> int:
    """The HTTP status of ``request``, trying for a few seconds while the server starts."""
    for _ in range(100):
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code
        except urllib.error.URLError:
            time.sleep(0.1)
    raise AssertionError(f"{request.full_url} never answered")
