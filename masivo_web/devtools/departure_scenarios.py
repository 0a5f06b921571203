"""The ways of leaving a page that ``make reliability`` measures, their targets, and the README's
table of what reached the server on the page and after the visitor came back
(:mod:`masivo_web.devtools.departures` runs them)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    """One way of leaving a page."""

    name: str
    leave: str  # "navigate", "close" or "reload"
    events: int
    later_page: bool
    delay_ms: int = 0  # first page only: calls this long after create_client
    failures_first: int = 0  # the batch route answers 503 this many times before the leave
    options: str = ""  # extra create_client arguments, as Python source
    #: Targets on the medians (None: measured, not a target).
    on_page_target: int | None = None
    after_return_target: int | None = None


#: The scenarios ``make reliability`` measures (and the README's table shows). Targets: every
#: event of a page left at once on a later page of the tab, or 300 ms after create_client on the
#: first page, is stored before any later page of the site loads; every event that met two 503s
#: is stored once the visitor comes back; none is stored twice where the service answered
#: normally (every scenario without failures; with them, re-sending is the design).
SCENARIOS = [
    Scenario(
        f"{how}, {where}",
        leave,
        30,
        later,
        delay_ms=delay,
        on_page_target=target,
        after_return_target=30,  # nothing lost, whichever page sends it
    )
    for later, where, delay, target in (
        (False, "first page, calls at once", 0, None),
        (False, "first page, calls 300 ms in", 300, 30),
        (True, "later page", 0, 30),
    )
    for how, leave in (
        ("navigate at once", "navigate"),
        ("close the tab at once", "close"),
        ("reload at once", "reload"),
    )
] + [
    Scenario(
        f"{how}, {where}",
        "navigate",
        events,
        later,
        delay_ms=0 if later else 300,
        failures_first=failures,
        options=options,
        after_return_target=events,
    )
    for later, where in ((False, "first page, calls 300 ms in"), (True, "later page"))
    for how, events, failures, options in (
        ("503 twice, then navigate", 50, 2, ""),
        ("500 calls, navigate at once", 500, 0, ""),
        ("500 calls, gzip, navigate at once", 500, 0, "compression='gzip'"),
    )
]
# The first page's "calls at once" leaves within the token's round trip: measured, no target.


@dataclass
class Outcome:
    """The counts of one run of a scenario."""

    sent: int
    on_page: int
    after_return: int
    stored_twice: int
    leave_after_ms: float = 0.0  # from create_client to the leave, in the page


@dataclass
class Result:
    """A scenario's runs, summarised as medians with ranges."""

    scenario: Scenario
    runs: list[Outcome] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in self.runs))

    def missed(self) -> list[str]:
        """The targets this scenario's medians miss (empty: all met)."""
        missed = []
        scenario = self.scenario
        for name, target in (
            ("on_page", scenario.on_page_target),
            ("after_return", scenario.after_return_target),
        ):
            if target is not None and self.median(name) < target:
                missed.append(f"{scenario.name}: {name} {self.median(name):g} < {target}")
        if not scenario.failures_first and any(run.stored_twice for run in self.runs):
            missed.append(f"{scenario.name}: events stored twice")
        return missed

    def span(self, name: str) -> str:
        values = [getattr(run, name) for run in self.runs]
        low, high = min(values), max(values)
        return f"{self.median(name):g}" + (f" ({low:g}-{high:g})" if low != high else "")


def table(results: list[Result]) -> str:
    """The README's table: medians, with the range in brackets when runs differ."""
    lines = [
        "| scenario | events | on the page | after return | stored twice |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.scenario.name} | {result.scenario.events} | {result.span('on_page')} "
            f"| {result.span('after_return')} | {result.span('stored_twice')} |"
        )
    return "\n".join(lines)
