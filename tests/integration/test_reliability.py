"""The fast part of the reliability proof (the full run is `make reliability`): every fault
class under seeded chaos, nothing lost, nothing stored twice."""

from __future__ import annotations

import pytest

from masivo_web.emulator.reliability import FAULT_CLASSES, report, run_cpython

pytestmark = pytest.mark.emulator


def test_no_event_is_lost_or_stored_twice_under_any_fault_class() -> None:
    rows = run_cpython(events_per_class=250, seed=7)
    assert [row.fault_class for row in rows] == list(FAULT_CLASSES)
    summary = report(rows, seed=7)
    for row in rows:
        assert row.sent == 250, summary
        assert row.lost == 0, summary
        assert row.stored_twice == 0, summary
        assert row.stored_once == row.sent, summary
        assert row.reported_failed == 0, summary
    injected = {kind for row in rows for kind in row.injected}
    assert {"500", "429", "401", "drop", "revoke", "slow"} <= injected  # the faults really happened
