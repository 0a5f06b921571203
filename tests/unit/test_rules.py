"""Rules that protect speed and portability, as tests: a tidy-up that breaks one goes red.

- The page's modules use only the asyncio that CPython, Pyodide and MicroPython share; the
  rest (futures, done-callbacks, shield, wait, call_soon...) lives in ``runtime`` and ``aio``.
- ``import masivo_web`` does not load what costs milliseconds in Pyodide and is not needed.
- A tracking call schedules nothing on the loop (the first event of a client excepted).
"""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from masivo_web import create_client
from masivo_web.devtools.page_build import erase, subset
from masivo_web.devtools.page_build import wheel as page_wheel
from masivo_web.runtime.interpreter import IS_BROWSER
from tests.fakes import FakeMasivo

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "masivo_web"

#: asyncio names MicroPython lacks or breaks (or that cost a loop round trip in a page): only
#: the adapter modules may touch them.
NOT_PORTABLE = {
    "add_done_callback",
    "call_at",
    "call_later",
    "call_soon",
    "create_future",
    "ensure_future",
    "get_running_loop",
    "shield",
}
#: The runtime layer: the one folder that handles what differs between the interpreters.
ADAPTERS = PACKAGE / "runtime"


def _page_modules() -> list[Path]:
    excluded: tuple[str, ...] = page_wheel.EXCLUDED
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(excluded):
            modules.append(path)
    return modules


def _non_portable_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if node.attr in NOT_PORTABLE:
                found.append(f"line {node.lineno}: .{node.attr}")
            elif (
                node.attr == "wait"
                and isinstance(node.value, ast.Name)
                and node.value.id == "asyncio"
            ):
                found.append(f"line {node.lineno}: asyncio.wait")
    return found


def test_the_rule_catches_what_it_is_about() -> None:
    source = "import asyncio\nasync def f(loop, task):\n    loop.call_soon(g)\n"
    source += "    await asyncio.wait([task])\n    task.add_done_callback(g)\n"
    assert sorted(_non_portable_uses(source)) == [
        "line 3: .call_soon",
        "line 4: asyncio.wait",
        "line 5: .add_done_callback",
    ]


def test_page_modules_use_only_the_portable_asyncio() -> None:
    modules = _page_modules()
    assert {path.name for path in modules} >= {"outbox.py", "flusher.py", "client.py"}
    offenders = {
        path.relative_to(ROOT).as_posix(): uses
        for path in modules
        if ADAPTERS not in path.parents
        and (uses := _non_portable_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "use masivo_web.runtime (aio, scheduling) instead"


def test_page_modules_stay_inside_the_micropython_subset() -> None:
    # What MicroPython cannot parse or run, in what a page gets (types erased): docs/runtimes.md.
    problems = []
    for path in _page_modules():
        name = path.relative_to(ROOT).as_posix()
        tree, _, type_uses = erase.erase(path.read_text(encoding="utf-8"), name, set())
        problems += type_uses
        problems += subset.micropython_problems(tree, name, adapter=ADAPTERS in path.parents)
    assert problems == []


def test_the_subset_check_catches_what_it_is_about() -> None:
    source = (
        "import contextlib\n"  # 1
        "def f(a, /, b):\n"  # 2
        "    x = [*a]\n"  # 3
        "    y = {**b}\n"  # 4
        "    zip(a, b, strict=True)\n"  # 5
        "    isinstance(a, int | str)\n"  # 6
        "    json.dumps(a, ensure_ascii=False)\n"  # 7
        "    try:\n"  # 8
        "        pass\n"  # 9
        "    except RecursionError as exc:\n"  # 10
        "        raise ValueError() from exc\n"  # 11
        "    return b.hexdigest(), time.monotonic(), locals()\n"  # 12
        "try:\n"
        "    import dataclasses\n"  # handled where it is missing: fine
        "except ImportError:\n"
        "    pass\n"
    )
    found = subset.micropython_problems(ast.parse(source), "m.py")
    lines = sorted(int(problem.split(":")[1]) for problem in found)
    assert lines == [1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 12, 12], found


def test_the_page_build_erases_types_and_refuses_a_type_used_at_run_time() -> None:
    sources = {
        "p/a.py": (
            "from __future__ import annotations\n"
            "from typing import TYPE_CHECKING, Generic, TypeVar, cast\n"
            "from collections.abc import Callable\n"
            "if TYPE_CHECKING:\n    from .b import Thing\n"
            "T = TypeVar('T')\n"
            "Hook = Callable[[int], None]\n"
            "class Box(Generic[T]):\n    value: T\n    size: int = 0\n"
            "def f(x: Thing, hook: Hook | None = None) -> int:\n    return cast(int, x)\n"
        ),
        "p/b.py": "from .a import Box, Hook\nclass Small(Box[int]):\n    pass\n",
    }
    page = erase.page_sources(sources)
    assert page["p/a.py"] == ("class Box:\n size = 0\n\ndef f(x, hook=None):\n return x\n")
    assert page["p/b.py"] == "from .a import Box\n\nclass Small(Box):\n pass\n"
    with pytest.raises(erase.TypeUseError, match=r"p/c.py:2: Mapping"):
        erase.page_sources(
            {"p/c.py": "from collections.abc import Mapping\nok = isinstance({}, Mapping)\n"}
        )


#: Modules a page's ``import masivo_web`` must not load: each costs milliseconds in Pyodide
#: (``uuid`` ~20 ms cold, ``hashlib`` every algorithm) or belongs to tests and servers.
NOT_AT_IMPORT = (
    "uuid",
    "urllib",
    "hashlib",
    "dataclasses",
    "email",
    "zlib",
    "masivo_web.sync",
    "masivo_web.transports.mock",
    "masivo_web.transports.cpython.stdlib",
    "masivo_web.emulator",
)


@pytest.mark.skipif(
    IS_BROWSER,
    reason="a subprocess cannot start inside Pyodide; the CPython run of tests/unit checks this",
)
def test_import_loads_nothing_it_does_not_need() -> None:
    code = (
        "import sys\nimport masivo_web\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NOT_AT_IMPORT!r} "
        f"or m in {NOT_AT_IMPORT!r}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert loaded == "[]"


async def test_a_tracking_call_schedules_nothing_on_the_loop(masivo: FakeMasivo) -> None:
    client = create_client("k", transport=masivo.transport, clock=masivo.clock)
    event = {"type": "ADD_TO_CART", "customer_id": "c-1", "brand_id": None}
    client.send_analytics_event(event)  # the first starts the flusher and authorizes
    await asyncio.sleep(0)
    tasks = asyncio.all_tasks()
    for _ in range(20):
        client.send_analytics_event(event)
    assert asyncio.all_tasks() == tasks
    client.destroy()
