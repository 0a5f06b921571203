"""CPython's transports name a timeout as one: ``MasivoNetworkError.timed_out`` is True when the
service took the request and never answered in ``timeout_s`` (it may have arrived), False when
it could not be reached at all (a real socket that never answers; the discard port)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from masivo_web import MasivoNetworkError
from masivo_web.rules.http import Request
from masivo_web.transports.cpython.httpx_client import HttpxTransport
from masivo_web.transports.cpython.stdlib import StdlibTransport

TRANSPORTS = {"stdlib": StdlibTransport, "httpx": HttpxTransport}


@pytest.fixture
def silent_origin() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("name", TRANSPORTS)
async def test_no_answer_in_time_is_a_timeout(name: str, silent_origin: str) -> None:
    request = Request("POST", f"{silent_origin}/events", body=b"{}", timeout_s=0.3)
    with pytest.raises(MasivoNetworkError, match="No answer") as caught:
        await TRANSPORTS[name]().send(request)
    assert caught.value.timed_out


@pytest.mark.parametrize("name", TRANSPORTS)
async def test_nobody_listening_is_not_a_timeout(name: str) -> None:
    request = Request("POST", "http://127.0.0.1:9/events", body=b"{}", timeout_s=5)
    with pytest.raises(MasivoNetworkError, match="reach") as caught:
        await TRANSPORTS[name]().send(request)
    assert not caught.value.timed_out
