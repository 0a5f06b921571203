"""The fast part of the reliability proof (the full run is `make reliability`): every fault
class under seeded chaos, nothing lost, and stored twice (the emulator keeps every copy, as the
documented service) only the events of requests whose answer was lost."""

from __future__ import annotations

import pytest

from masivo_web.devtools.reliability import FAULT_CLASSES, run_cpython
from masivo_web.devtools.tally import LOST_ANSWER_KINDS, report

pytestmark = pytest.mark.emulator


def test_no_event_is_lost_or_stored_twice_under_any_fault_class() -> None:
    rows = run_cpython(events_per_class=250, seed=7)
    assert [row.fault_class for row in rows] == list(FAULT_CLASSES)
    summary = report(rows, seed=7)
    for row in rows:
        assert row.sent == 250, summary
        assert row.lost == 0, summary
        assert row.stored_once + row.stored_twice == row.sent, summary
        assert row.reported_failed == 0, summary
        if not set(FAULT_CLASSES[row.fault_class]) & set(LOST_ANSWER_KINDS):
            assert row.stored_twice == 0, summary  # no answer lost: nothing sent twice
        assert row.stored_twice <= row.resend_bound, summary
    injected = {kind for row in rows for kind in row.injected}
    assert {"500", "429", "401", "drop", "revoke", "slow"} <= injected  # the faults really happened


def test_the_field_part_runs_every_condition_and_stores_each_event_once() -> None:
    from masivo_web.devtools.field import field_report, run_field

    rows = run_field(events=20, seconds=1.0)
    summary = field_report(rows)
    conditions = [row.condition for row in rows]
    assert any("+2h" in c for c in conditions) and any("fork" in c for c in conditions), summary
    for row in rows:
        assert row.stored_once == row.sent and row.stored_twice == 0, summary
        assert row.refused == 0, summary
    # One authorize per process: the clock rows one each, the fork the parent and 3 children.
    assert [row.authorize for row in rows] == [1] * 6 + [4], summary
