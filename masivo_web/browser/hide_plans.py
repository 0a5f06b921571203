"""A worker's page-hide plans: what the page starts for the worker's clients when it is left.

With every update the worker sends its page (:class:`~masivo_web.browser.worker.PageLink`), each
client's flusher (a :class:`Planner`) says which requests its page-hide flush would start now;
the page starts them with ``keepalive`` in its own ``pagehide`` listener and says which it
started (``fired``), then forwards their answers while the worker lives. The plans are numbered,
and the last few are kept: the page may fire a plan the worker has already replaced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..errors import MasivoNetworkError
from ..rules.http import Request, Response
from ..runtime.aio import Settable
from ..runtime.scheduling import report_exception
from .main_thread import request_message

#: How many plans are kept for the page to fire (the newest first).
KEPT_PLANS = 4


class Planner(Protocol):
    """What plans a page-hide flush: a client's flusher."""

    def hide_plan(self) -> list[tuple[Request, list[str], str]]: ...

    def hand_off_writes(self, event_ids: list[str]) -> dict[str, str | None] | None: ...

    def started_elsewhere(
        self,
        event_ids: list[str],
        token: str,
        answer: Callable[[], Awaitable[Response]],
        *,
        handed_off: bool = False,
    ) -> bool: ...


class HidePlans:
    """The planners of a worker, its numbered plans and the answers the page forwards."""

    def __init__(self) -> None:
        self._planners: list[Planner] = []
        self._plans: dict[int, list[tuple[Planner, list[str], str, bool]]] = {}
        self._number = 0
        self._answers: dict[tuple[int, int], Settable[Response]] = {}

    def add(self, planner: Planner) -> None:
        self._planners.append(planner)

    def remove(self, planner: Planner) -> bool:
        """Stop planning for ``planner``; False if it was not planning."""
        if planner not in self._planners:
            return False
        self._planners.remove(planner)
        return True

    def next(self) -> dict[str, Any]:
        """A new plan, as the page receives it: its number, the requests to start, and the
        storage writes to apply once all of them started (their stored copies go)."""
        self._number += 1
        number = self._number
        requests: list[dict[str, Any]] = []
        entries = []
        handoff: dict[str, str | None] = {}
        for planner in self._planners:
            try:
                plan = planner.hide_plan()
                writes = planner.hand_off_writes([i for _, ids, _ in plan for i in ids])
            except Exception as exc:
                report_exception(exc, "masivo_web: planning the page-hide flush failed")
                continue
            for request, event_ids, token in plan:
                requests.append(request_message(request))
                entries.append((planner, event_ids, token, writes is not None))
            handoff.update(writes or {})
        message: dict[str, Any] = {"n": number, "requests": requests}
        if handoff:  # applied by the page once every request started: not sent again
            message["handoff"] = handoff
        self._plans = {n: plan for n, plan in self._plans.items() if n > number - KEPT_PLANS}
        self._plans[number] = entries
        return message

    def fired(self, number: int, started: list[int], handed: bool) -> None:
        """The page started the requests ``started`` of plan ``number`` (and applied its
        hand-off writes if ``handed``): their events are sent, settled by the answers."""
        entries = self._plans.pop(number, [])
        for index in started:
            if index >= len(entries):
                continue
            planner, event_ids, token, writes = entries[index]
            answer: Settable[Response] = Settable()
            handed_off = handed and writes  # the page took their stored copies out
            if planner.started_elsewhere(event_ids, token, answer.wait, handed_off=handed_off):
                self._answers[(number, index)] = answer

    def answer(self, message: dict[str, Any]) -> None:
        """The page's answer to a request it started (or the error that ended it)."""
        answer = self._answers.pop((int(message["plan"]), int(message["i"])), None)
        if answer is None:
            return
        if "error" in message:
            answer.set_error(
                MasivoNetworkError(f"The page's request got no answer ({message['error']}).")
            )
            return
        headers = {}
        if message.get("retry_after") is not None:
            headers["retry-after"] = str(message["retry_after"])
        body = str(message.get("body") or "").encode("utf-8")
        answer.set_value(Response(int(message["status"]), headers, body))
