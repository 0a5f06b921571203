"""What happened to one event of a request, as the delivery rules read an answer."""

from __future__ import annotations

from typing import Any, Literal

from .._record import Record
from ..errors import MasivoError


class Outcome(Record):
    """What happened to one event of a request: ``delivered`` (``data`` is the server's answer
    for it), ``rejected`` or ``retry`` (``error`` is the error to report), or ``split``: its
    batch was too large for the service (413), so it goes again in a smaller one."""

    __slots__ = ("data", "error", "kind", "retry_after_s", "status")

    def __init__(
        self,
        kind: Literal["delivered", "rejected", "retry", "split"],
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
