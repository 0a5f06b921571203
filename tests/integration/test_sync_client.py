"""SyncClient: the same SDK from code that has no event loop (scripts, WSGI views)."""

from __future__ import annotations

import pytest

from masivo_web import MasivoError, MasivoValidationError, SyncClient
from masivo_web.emulator import EmulatorServer

pytestmark = pytest.mark.emulator


def test_a_script_sends_and_flushes_without_asyncio(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    with SyncClient(
        emulator.client_key, auth_url=emulator.auth_url, api_base=emulator.api_base
    ) as masivo:
        futures = [
            masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
            for _ in range(3)
        ]
        masivo.flush()
        assert [future.result(timeout=5).status for future in futures] == [201, 201, 201]
        with pytest.raises(MasivoValidationError):
            masivo.send_analytics_event(type="PURCHASE", customer_id="c-1", brand_id=None)
        masivo.identify("c-9")
        last = masivo.send_analytics_event(type="EMPTY_CART", brand_id=None)
    assert last.result(timeout=5).success  # close() flushed it
    assert [e["customer_id"] for e in emulator.control.received_events()][-1] == "c-9"
    assert len(emulator.control.received_events()) == 5  # 3 + IDENTIFY + EMPTY_CART


def test_failures_come_back_through_the_future(fresh_masivo_emulator: EmulatorServer) -> None:
    emulator = fresh_masivo_emulator
    emulator.control.inject_fault("analytics", status=422)
    masivo = SyncClient(emulator.client_key, auth_url=emulator.auth_url, api_base=emulator.api_base)
    future = masivo.send_analytics_event(type="ADD_TO_CART", customer_id="c-1", brand_id=None)
    masivo.flush()
    with pytest.raises(MasivoError) as caught:
        future.result(timeout=5)
    assert caught.value.status == 422
    assert masivo.close() is True
    with pytest.raises(MasivoError, match="closed"):
        masivo.flush()
