"""What a reliability run counts, per fault class: sent, stored once, stored twice, reported
failed, lost; the bounds the faults explain, and the table ``make reliability`` prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..emulator.server import EmulatorServer

#: The chaos kinds that store the events and lose the answer (a "slow" answer is processed
#: after the client gave up): the SDK re-sends, so a service without de-duplication stores
#: their events twice.
LOST_ANSWER_KINDS = ("drop_after", "slow", "slow_after")


@dataclass
class Tally:
    """What happened to the events of one fault class."""

    fault_class: str
    sent: int
    stored_once: int
    stored_twice: int
    reported_failed: int
    lost: int
    injected: dict[str, int]
    seconds: float
    #: Most events one faulty request can make the SDK send again (the batch size; in
    #: Chromium a page's events, twice: a page left after a failure keeps them stored).
    per_fault: int = 25
    #: Whether any fault may cause a re-send (pages left while the service failed), not only
    #: the lost answers.
    any_fault_resends: bool = False
    #: Whether a fault may lose events: a page hands its events to a keepalive request while
    #: the service answers normally, and that very request fails after the page is gone.
    faults_may_lose: bool = False

    @property
    def lost_answers(self) -> int:
        """Requests whose events were stored and whose answer never came back."""
        return sum(self.injected.get(kind, 0) for kind in LOST_ANSWER_KINDS)

    @property
    def resend_bound(self) -> int:
        """The most events that may be stored twice: none without a fault that explains it."""
        faults = sum(self.injected.values()) if self.any_fault_resends else self.lost_answers
        return faults * self.per_fault

    @property
    def loss_bound(self) -> int:
        """The most events that may be lost: none, unless a handed-off request may fail."""
        return sum(self.injected.values()) * self.per_fault if self.faults_may_lose else 0

    @property
    def ok(self) -> bool:
        """Lost and stored twice only within what the faults explain."""
        return self.lost <= self.loss_bound and self.stored_twice <= self.resend_bound


def tally(
    fault_class: str,
    sent_ids: list[str],
    emulator: EmulatorServer,
    failed: int,
    seconds: float,
    chaos: dict[str, Any] | None = None,
) -> Tally:
    """Compare what was sent with what the emulator stored."""
    stored = Counter(event["event_id"] for event in emulator.control.received_events())
    chaos = chaos or emulator.control.chaos() or {}
    return Tally(
        fault_class=fault_class,
        sent=len(sent_ids),
        stored_once=sum(1 for event_id in sent_ids if stored[event_id] == 1),
        stored_twice=sum(1 for count in stored.values() if count > 1),
        reported_failed=failed,
        lost=sum(1 for event_id in sent_ids if stored[event_id] == 0),
        injected=dict(chaos.get("injected", {})),
        seconds=seconds,
    )


def report(rows: list[Tally], seed: int) -> str:
    """A table of the tallies, and the seed to replay a failure."""
    header = (
        f"{'fault class':<46} {'sent':>6} {'stored once':>11} {'stored twice':>12} "
        f"{'lost answers':>12} {'reported failed':>15} {'lost':>5} {'secs':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.fault_class:<46} {row.sent:>6} {row.stored_once:>11} {row.stored_twice:>12} "
            f"{row.lost_answers:>12} {row.reported_failed:>15} {row.lost:>5} "
            f"{row.seconds:>6.1f}"
        )
    injected: Counter[str] = Counter()
    for row in rows:
        injected.update(row.injected)
    lines.append(f"faults injected: {dict(sorted(injected.items()))}")
    failing = [row.fault_class for row in rows if not row.ok]
    if failing:
        lines.append(f"FAILED for {failing}: replay with --seed {seed}")
    else:
        lines.append(
            f"OK: lost and stored twice only within what the faults explain (seed {seed})."
        )
    return "\n".join(lines)
