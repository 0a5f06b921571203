"""The faults a test or the demo injects into the emulator: one :class:`Fault` at a time, or
seeded random :class:`Chaos` over a route (the reliability proof's weather)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["authorize", "analytics", "behavior"]


@dataclass
class Fault:
    """What the next ``remaining`` requests to ``route`` get instead of a normal answer."""

    route: Route | Literal["*"]
    remaining: int = 1
    status: int | None = None
    delay_s: float = 0.0
    drop: bool = False
    retry_after: float | None = None
    #: Store the events first, then misbehave (a lost answer, not a lost request).
    after_processing: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "remaining": self.remaining,
            "status": self.status,
            "delay_s": self.delay_s,
            "drop": self.drop,
            "retry_after": self.retry_after,
            "after_processing": self.after_processing,
        }


#: What chaos can do to a request: an HTTP status, a dropped connection before or after the
#: events are stored, an answer slower than the client waits, or revoking every token first.
CHAOS_KINDS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "401",
    "drop",
    "drop_after",
    "slow",
    "slow_after",
    "revoke",
)


@dataclass
class Chaos:
    """Seeded random faults: each request to ``route`` suffers one of ``kinds`` with
    ``probability``. The same seed and request order give the same faults (replayable)."""

    route: Route | Literal["*"]
    probability: float
    kinds: tuple[str, ...]
    seed: int
    slow_s: float = 1.0
    retry_after: float = 0.2
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def pick(self, route: Route) -> str | None:
        if self.route not in (route, "*") or self._random.random() >= self.probability:
            return None
        kind = self._random.choice(self.kinds)
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def fault(self, kind: str) -> Fault | None:
        """The :class:`Fault` for ``kind`` (None for ``revoke``, handled by the caller)."""
        if kind == "drop":
            return Fault(self.route, drop=True)
        if kind == "drop_after":
            return Fault(self.route, drop=True, after_processing=True)
        if kind == "slow":
            return Fault(self.route, delay_s=self.slow_s)
        if kind == "slow_after":
            return Fault(self.route, delay_s=self.slow_s, after_processing=True)
        if kind == "revoke":
            return None
        retry_after = self.retry_after if kind == "429" else None
        return Fault(self.route, status=int(kind), retry_after=retry_after)

    def public(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "probability": self.probability,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "injected": dict(self.injected),
        }
