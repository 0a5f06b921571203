"""Shared test setup: coroutine tests run on a fresh event loop, with a fake clock and a scripted
Masivo. (Each test's FakeMasivo has its own transport, and clients share a token only through
the same transport, so no test sees another's token, even from a client it leaked.)"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from masivo_web.browser.page import Page
from tests import fakes
from tests.fakes import FakeClock, FakeLocalStorage, FakeMasivo, fake_page


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with ``asyncio.run`` (no plugin needed, so the same tests run
    under Pyodide too)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(_then_cancel_leftovers(pyfuncitem.obj(**kwargs)))
    return True


async def _then_cancel_leftovers(test: Coroutine[Any, Any, None]) -> None:
    # CPython's asyncio.run cancels tasks a test left behind; Pyodide's reuses its one WebLoop
    # and does not, so do it here for both: no test sees another's tasks. Only tasks born in
    # the test: in Pyodide the same loop also runs the task that is running pytest itself.
    existing = asyncio.all_tasks()
    fakes.OUTSIDE_TASKS = existing
    try:
        await test
    finally:
        fakes.OUTSIDE_TASKS = set()
        leftovers = [task for task in asyncio.all_tasks() - existing if not task.done()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API holds the main thread's event loop from its
    first use to the end of the session, and the tests above start their own loops."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def masivo(clock: FakeClock) -> FakeMasivo:
    return FakeMasivo(clock)


@pytest.fixture
def site() -> Callable[[], Page]:
    """Each call opens a new "tab" of one site: its own page, the site's shared localStorage."""
    storage = FakeLocalStorage()

    def open_tab() -> Page:
        return fake_page(storage)

    open_tab.storage = storage  # type: ignore[attr-defined]
    return open_tab
