"""``runtime.scheduling.next_turn``: work a tracking call defers runs later, in order, in a task of
its own.

Under CPython this is the loop's ``call_soon``; inside Pyodide (the same tests run under Node)
it is the shared MessageChannel path the page uses.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from masivo_web.runtime.interpreter import IS_BROWSER
from masivo_web.runtime.scheduling import next_turn


async def _until(condition: Any, timeout_s: float = 2.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_next_turn_runs_later_in_order_and_one_failure_does_not_stop_the_rest() -> None:
    loop = asyncio.get_running_loop()
    failures: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, context: failures.append(context["exception"]))
    ran: list[str] = []

    def fail() -> None:
        ran.append("fail")
        raise ValueError("boom")

    try:
        next_turn(lambda: ran.append("first"))
        next_turn(fail)
        next_turn(lambda: ran.append("last"))
        assert ran == []  # not in the caller's turn
        await _until(lambda: len(ran) == 3)
    finally:
        loop.set_exception_handler(None)
    assert ran == ["first", "fail", "last"]
    assert [str(error) for error in failures] == ["boom"]


async def test_a_callback_may_post_another_turn() -> None:
    ran: list[int] = []

    def again() -> None:
        ran.append(len(ran))
        if len(ran) < 3:
            next_turn(again)

    next_turn(again)
    await _until(lambda: len(ran) == 3)
    assert ran == [0, 1, 2]


@pytest.mark.skipif(IS_BROWSER, reason="in Pyodide the WebLoop always exists")
def test_without_a_running_loop_the_callback_runs_at_once() -> None:
    # A client closed after its loop ended still writes its storage.
    ran: list[bool] = []
    next_turn(lambda: ran.append(True))
    assert ran == [True]


def test_neither_cpython_nor_node_is_taken_for_a_web_worker() -> None:
    # A worker has a WorkerGlobalScope and no window; Node (where the unit tests also run
    # inside Pyodide) has neither, CPython no JS at all. tests/micropython checks a worker.
    from masivo_web.runtime.interpreter import in_worker

    assert in_worker() is False
