"""SyncClient: the same SDK from code that has no event loop (scripts, WSGI views), and what a
program that ends without ``close()`` gets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from masivo_web import MasivoError, MasivoValidationError, SyncClient
from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]


def connect(emulator: EmulatorServer, **options: Any) -> SyncClient:
    return SyncClient(
        emulator.client_key, auth_url=emulator.auth_url, api_base=emulator.api_base, **options
    )


def test_a_script_sends_and_flushes_without_asyncio(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    with connect(emulator) as masivo:
        futures = [
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
            for _ in range(3)
        ]
        assert masivo.flush(timeout_s=10) is True
        assert [future.result(timeout=5).status for future in futures] == [201, 201, 201]
        with pytest.raises(MasivoValidationError):
            masivo.send_analytics_event(type="PURCHASE", customer_id="c-1", brand_id=None)
        masivo.identify("c-9")
        last = masivo.send_analytics_event(type="EMPTY_CART", brand_id=None)
    assert last.result(timeout=5).success  # close() flushed it
    assert [e["customer_id"] for e in emulator.control.received_events()][-1] == "c-9"
    assert len(emulator.control.received_events()) == 5  # 3 + IDENTIFY + EMPTY_CART


def test_50_quick_events_and_a_flush_are_one_request(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    with connect(emulator) as masivo:
        for n in range(50):
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"c-{n}", brand_id=None)
        assert masivo.flush(timeout_s=10)
    routes = [request["route"] for request in emulator.control.requests()]
    assert routes == ["authorize", "analytics"]
    assert len(emulator.control.received_events()) == 50


def test_a_failure_nobody_waited_for_reaches_on_error(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", status=422)
    reported: list[tuple[MasivoError, str]] = []
    masivo = connect(emulator, on_error=lambda error, event_id: reported.append((error, event_id)))
    future = masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    assert masivo.close() == True  # noqa: E712  # a CloseResult
    assert [(error.status, event_id) for error, event_id in reported] == [(422, future.event_id)]
    assert isinstance(future.exception(timeout=1), MasivoError)


def test_a_failure_someone_waits_for_is_theirs(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", status=422)
    reported: list[str] = []
    masivo = connect(emulator, on_error=lambda error, event_id: reported.append(event_id))
    future = masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    with pytest.raises(MasivoError) as caught:
        future.result(timeout=10)  # sends the batch now, not at the 30 s idle timer
    assert caught.value.status == 422
    assert reported == []
    assert masivo.close() == True  # noqa: E712  # a CloseResult
    with pytest.raises(MasivoError, match="closed"):
        masivo.flush()


def test_the_whole_client_api_is_there(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    masivo = connect(emulator)
    anonymous = masivo.anonymous_id
    assert masivo.customer_id is None
    masivo.page("Home", {"a": 1}, url="https://shop.test/", path="/")
    masivo.identify("c-7", {"plan": "gold"}).result(timeout=10)
    assert masivo.customer_id == "c-7"
    masivo.reset()
    assert masivo.customer_id is None and masivo.anonymous_id != anonymous
    masivo.opt_out()
    assert masivo.opted_out
    dropped = masivo.send_analytics_event(type="ADD_TO_CART", brand_id=None)
    assert dropped.result(timeout=1).success is False
    masivo.opt_in()
    assert isinstance(masivo.get_token(), str)
    masivo.destroy()
    types = [event["type"] for event in emulator.control.received_events()]
    assert types == ["PAGE_VIEW", "IDENTIFY"]


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_close_with_a_timeout_is_quiet(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", delay_s=3)
    script = run_script(
        f"""
        from masivo_web import SyncClient
        masivo = SyncClient({emulator.client_key!r}, auth_url={emulator.auth_url!r},
                            api_base={emulator.api_base!r})
        masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
        print(masivo.close(timeout_s=0.5))
        """
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == "CloseResult(unsent=1)"
    assert "Task was destroyed" not in script.stderr
    assert "1 event(s) were not sent" in script.stderr  # told exactly what was not sent


def test_a_script_that_never_closes_its_sync_client_still_sends(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    script = run_script(
        f"""
        from masivo_web import SyncClient
        masivo = SyncClient({emulator.client_key!r}, auth_url={emulator.auth_url!r},
                            api_base={emulator.api_base!r})
        for n in range(5):
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id=f"c-{{n}}", brand_id=None)
        """
    )
    assert script.returncode == 0, script.stderr
    assert len(emulator.control.received_events()) == 5
    assert script.stderr == ""


def test_an_async_client_never_closed_says_what_it_did_not_send(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    script = run_script(  # the pattern: a client made at import, used in asyncio.run(main())
        f"""
        import asyncio
        from masivo_web import create_client
        masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r},
                               api_base={emulator.api_base!r})
        async def main():
            for n in range(3):
                masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c", brand_id=None)
        asyncio.run(main())
        """
    )
    assert script.returncode == 0, script.stderr
    assert "3 event(s) not sent" in script.stderr
    assert "close()" in script.stderr


def test_a_loop_that_ends_with_a_batch_on_the_wire_sends_it_before_it_ends(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", delay_s=3)
    script = run_script(
        f"""
        import asyncio
        from masivo_web import create_client
        masivo = create_client({emulator.client_key!r}, auth_url={emulator.auth_url!r},
                               api_base={emulator.api_base!r})
        async def main():
            for n in range(3):
                masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c", brand_id=None)
            asyncio.ensure_future(masivo.flush())
            await asyncio.sleep(0.5)  # the batch is on the wire when the loop ends
        asyncio.run(main())
        print(masivo.pending_events)  # sent while the loop ended, not lost
        """
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == "0"
    assert "Task was destroyed" not in script.stderr
    assert "Traceback" not in script.stderr
    assert "a client that was never closed holds 3 event(s)" in script.stderr
    assert len(emulator.control.received_events()) == 3


def test_threads_tracking_while_another_closes_lose_nothing_they_were_promised(
    fresh_masivo_emulator: EmulatorServer,
) -> None:
    """8 threads share a SyncClient while the main thread closes it: each event is refused at
    its call, or delivered (or counted by close() as not sent): never accepted, then dropped."""
    import threading

    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", delay_s=0.2, count=1000)  # a slow service
    masivo = connect(emulator, batch_size=5)
    accepted: list[Any] = []
    refused: list[MasivoError] = []
    lock = threading.Lock()
    started = threading.Barrier(9)

    def track(worker: int) -> None:
        started.wait()
        for n in range(40):
            try:
                future = masivo.send_analytics_event(
                    type="ADD_TO_CART", customer_id=f"t{worker}-{n}", brand_id=None
                )
            except MasivoError as error:
                with lock:
                    refused.append(error)
            else:
                with lock:
                    accepted.append(future)

    threads = [threading.Thread(target=track, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    started.wait()
    result = masivo.close(timeout_s=30)
    for thread in threads:
        thread.join()
    assert result.unsent == 0, result
    assert len(accepted) + len(refused) == 320
    assert all(future.result(timeout=1).success for future in accepted)
    stored = {event["customer_id"] for event in emulator.control.received_events()}
    assert len(stored) == len(accepted)
    assert all("clos" in str(error) for error in refused), {str(e) for e in refused}
