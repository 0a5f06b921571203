"""What happened to one event of a request, as the delivery rules read an answer."""

from __future__ import annotations

from typing import Any, Literal

from .._record import Record
from ..errors import MasivoError


class Outcome(Record):
    """What happened to one event of a request: ``data`` is the server's per-event answer
    (delivered), ``error`` the error to report (rejected, retry)."""

    __slots__ = ("data", "error", "kind", "retry_after_s", "status")

    def __init__(
        self,
        kind: Literal["delivered", "rejected", "retry"],
        status: int,
        data: Any = None,
        error: MasivoError | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.status = status
        self.data = data
        self.error = error
        self.retry_after_s = retry_after_s
