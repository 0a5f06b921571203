"""The package's layers and their direction, as a test over every module's imports.

Each folder of ``masivo_web`` is a layer (``docs/architecture.md``), and a layer imports only
the layers below it::

    face (masivo_web, client, closing, factory, parts, sync/, seams)
      -> engine | browser | transports -> rules -> runtime -> base (errors, records, version)

The emulator imports nothing of the SDK, and the tools that run from a checkout (``devtools/``,
the command line, the pytest plugin) reach it only through its face; no SDK module imports
them. Every import counts: at the top, inside a function (lazy) and under ``TYPE_CHECKING``.
There are no import loops, between modules or between folders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from masivo_web.devtools.page_build import wheel as page_wheel

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "masivo_web"

#: The top-level modules and the layer each belongs to (a folder's modules are its layer).
TOP_LEVEL = {
    "masivo_web": "face",
    "masivo_web.client": "face",
    "masivo_web.factory": "face",
    "masivo_web.seams": "face",
    "masivo_web.closing": "face",
    "masivo_web.parts": "face",
    "masivo_web.errors": "base",
    "masivo_web._record": "base",
    "masivo_web._version": "base",
    "masivo_web.__main__": "tools",
    "masivo_web.pytest_plugin": "tools",
}
FOLDERS = {
    "runtime": "runtime",
    "rules": "rules",
    "engine": "engine",
    "browser": "browser",
    "transports": "transports",
    "emulator": "emulator",
    "devtools": "tools",
    "sync": "face",
}
#: What each layer may import (besides itself).
MAY_IMPORT = {
    "base": set(),
    "runtime": {"base"},
    "rules": {"runtime", "base"},
    "engine": {"rules", "runtime", "base"},
    "browser": {"rules", "runtime", "base"},
    "transports": {"rules", "runtime", "base"},
    "face": {"engine", "browser", "transports", "rules", "runtime", "base"},
    "emulator": set(),
    "tools": {"face", "emulator"},
}
#: What the emulator and the tools may import of the SDK: its public face.
PUBLIC_FACE = {"masivo_web", "masivo_web.seams", "masivo_web.errors"}
#: And one asset of the browser layer: the main-thread module of a worker's client, a file
#: ``bundle`` writes beside the page archive (its text lives with the code that uses it).
TOOL_ASSETS = {("masivo_web.devtools.bundle", "masivo_web.browser.main_thread")}
#: At most this many modules at the top of the package.
TOP_LEVEL_LIMIT = 12
#: At most this many lines in a module: a longer one holds more than one concept; split it.
MODULE_LINES_LIMIT = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in FOLDERS:
        return FOLDERS[parts[1]]
    raise AssertionError(
        f"{module} is in no layer: put it in a layer's folder, or name its layer in TOP_LEVEL"
    )


def folder_of(module: str) -> str:
    """The node of the folder graph: a first-level folder, or a top-level module itself."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and parts[1] in FOLDERS else module


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Every SDK module ``module`` imports, wherever the import statement is."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from package import module`` imports the module
            targets = [
                f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, set()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    folders: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = folders.setdefault(folder_of(module), set())
        edges.update(folder_of(target) for target in targets)
        edges.discard(folder_of(module))
    return folders


def test_every_import_points_down() -> None:
    wrong = []
    for module, targets in sorted(import_graph().items()):
        layer = layer_of(module)
        for target in sorted(targets):
            target_layer = layer_of(target)
            if (module, target) in TOOL_ASSETS:
                continue
            if target_layer != layer and target_layer not in MAY_IMPORT[layer]:
                wrong.append(f"{module} ({layer}) imports {target} ({target_layer})")
    assert wrong == []


def test_the_emulator_and_the_tools_use_only_the_public_face() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        if layer_of(module) in ("tools", "emulator")
        for target in sorted(targets)
        if layer_of(target) not in ("tools", "emulator") and target not in PUBLIC_FACE
        if (module, target) not in TOOL_ASSETS
    ]
    assert wrong == []


def test_no_import_loops_between_modules_or_folders() -> None:
    graph = import_graph()
    assert loops(graph) == []
    assert loops(folder_graph(graph)) == []


def test_a_few_modules_at_the_top() -> None:
    top = [name for name, path in modules().items() if path.parent == PACKAGE]
    assert len(top) <= TOP_LEVEL_LIMIT, top


def test_every_module_is_short() -> None:
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES_LIMIT
    }
    assert long == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a lazy import, an import under TYPE_CHECKING, a module imported from its package
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from ..engine.outbox import Outbox\n"
            "def f():\n    from .. import client\n",
            {"masivo_web.engine.outbox", "masivo_web.client"},
        ),
        ("import masivo_web.rules.api as api\n", {"masivo_web.rules.api"}),
    ],
)
def test_the_rule_sees_every_import(tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "x.py"
    path.write_text(source)
    known = set(modules())
    assert imports_of("masivo_web.rules.x", path, known) == expected


def test_the_rule_catches_what_it_is_about() -> None:
    # an upward import, a loop of modules, a loop of folders
    assert layer_of("masivo_web.rules.api") == "rules"
    assert "engine" not in MAY_IMPORT["rules"]
    assert loops({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    graph = {
        "masivo_web.engine.x": {"masivo_web.browser.y"},
        "masivo_web.browser.z": {"masivo_web.engine.w"},
    }
    assert loops(folder_graph(graph)) == [["masivo_web.browser", "masivo_web.engine"]]


def _page_wheel_leaves_out() -> tuple[str, ...]:
    excluded: tuple[str, ...] = page_wheel.EXCLUDED
    return excluded


#: Imports of left-out modules a page never runs: CPython branches, taken only without a page.
CPYTHON_BRANCHES = {
    ("masivo_web", "masivo_web.sync"),  # SyncClient, imported on first use
    ("masivo_web.transports", "masivo_web.transports.cpython.stdlib"),
    ("masivo_web.transports", "masivo_web.transports.cpython.httpx_client"),
}


def test_the_page_wheel_leaves_out_whole_folders_and_nothing_a_page_imports() -> None:
    excluded = _page_wheel_leaves_out()
    assert {"masivo_web/emulator/", "masivo_web/devtools/"} <= set(excluded)
    found = modules()
    left_out = {
        name
        for name, path in found.items()
        if path.relative_to(ROOT).as_posix().startswith(excluded)
    }
    in_pages = set(found) - left_out
    graph = import_graph()
    leaks = [
        (module, target)
        for module in sorted(in_pages)
        for target in sorted(graph[module] & left_out)
        if (module, target) not in CPYTHON_BRANCHES
    ]
    assert leaks == []
    # every folder but the page's own is left out whole: a tool added there cannot leak
    for name in left_out:
        parts = name.split(".")
        assert parts[1] in {"emulator", "devtools", "transports", "sync"} or name in TOP_LEVEL, name


#: The browser's modules, which only the runtime layer reaches (lazily).
BROWSER_MODULES = {"js", "pyodide", "jsffi", "polyscript", "pyscript"}


def browser_imports(source: str) -> list[int]:
    """The lines of ``source`` that import a browser module, at any depth."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        if any(name.split(".")[0] in BROWSER_MODULES for name in names):
            lines.append(node.lineno)
    return lines


def test_only_the_runtime_layer_imports_the_browsers_modules() -> None:
    assert browser_imports("def f():\n    import js\n    from pyodide.ffi import to_js\n") == [
        2,
        3,
    ]
    found = {
        name: lines
        for name, path in modules().items()
        if layer_of(name) != "runtime"
        and (lines := browser_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}
