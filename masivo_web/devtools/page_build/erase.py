"""The source a page runs: the package's modules with what only the type checker reads taken out.

    page_sources({"masivo_web/aio.py": text, ...}) -> {"masivo_web/aio.py": page_text, ...}

The package is written for CPython 3.11 with full type hints (``mypy --strict``). A page pays
for every byte and every compiled line, and MicroPython has neither ``typing``, nor
``collections.abc``, nor ``from __future__`` (see docs/runtimes.md), so the page build erases
types the way a TypeScript build does, and compacts what is left:

- docstrings and comments go; indentation is one space per level;
- every annotation goes (signatures, class bodies, variables): ``x: T = v`` becomes ``x = v``;
- ``from __future__``, ``typing``, ``collections.abc`` and ``types`` imports go, and so does an
  ``if TYPE_CHECKING:`` block (its ``else`` stays);
- what is built from erased names goes with them: ``T = TypeVar("T")``, aliases such as
  ``OnError = Callable[...]`` (and their imports from sibling modules), ``Generic[T]`` and
  ``Protocol`` bases; ``cast(T, value)`` becomes ``value``.

Nothing else changes, and that is checked: an erased name still read anywhere stops the build
(a runtime use such as ``isinstance(x, Mapping)`` has to go through ``masivo_web.runtime``), and
the compacted text must parse to the same tree as the erased one. What MicroPython cannot run
beyond types is :mod:`.subset`'s business.
"""

from __future__ import annotations

import ast

#: Modules whose names only the type checker reads, in the page's source.
TYPE_ONLY_MODULES = ("__future__", "typing", "collections.abc", "types")


class TypeUseError(RuntimeError):
    """An erased (type-only) name is used at run time; the page build would break there."""


def _docstring(body: list[ast.stmt]) -> bool:
    return bool(
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def handles_import_error(node: ast.Try) -> bool:
    """Whether ``node`` has an ``except`` naming ``ImportError`` (alone or in a tuple): the
    imports in its body are run-time ones whose absence is handled."""
    return any(
        handler.type is not None and "ImportError" in _reads(handler.type)
        for handler in node.handlers
    )


def _is_type_expression(node: ast.expr) -> bool:
    """Whether ``node`` can only be a type: ``Callable[[int], None]``, ``X | None``,
    ``Literal["a"]``, ``TypeVar("T")``. (A call such as ``isinstance(x, Mapping)`` is not.)"""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return True
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, str)
    if isinstance(node, ast.Subscript):
        return _is_type_expression(node.value)
    if isinstance(node, ast.BinOp):
        return (
            isinstance(node.op, ast.BitOr)
            and _is_type_expression(node.left)
            and _is_type_expression(node.right)
        )
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_type_expression(element) for element in node.elts)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in ("TypeVar", "NewType")
    return False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Erase(ast.NodeTransformer):
    """One module's erasure; ``erased`` holds the names it removed (``aliases`` the subset a
    sibling module may import)."""

    def __init__(self, sibling_aliases: set[str]) -> None:
        self.erased: set[str] = set()
        self.aliases: set[str] = set()
        self.sibling_aliases = sibling_aliases
        self.guarded = 0  # inside a try that handles ImportError

    def _block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for statement in statements:
            result = self.visit(statement)
            if isinstance(result, list):
                out += result
            elif result is not None:
                out.append(result)
        return out

    # Imports and TYPE_CHECKING blocks.
    def visit_Try(self, node: ast.Try) -> ast.AST:
        # An import inside ``try: ... except ImportError:`` is a run-time one (its absence is
        # handled): it stays, whatever its module.
        if handles_import_error(node):
            self.guarded += 1
            node.body = self._block(node.body)
            self.guarded -= 1
            for handler in node.handlers:
                handler.body = self._block(handler.body)
            node.orelse = self._block(node.orelse)
            node.finalbody = self._block(node.finalbody)
            return node
        self.generic_visit(node)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        if node.module in TYPE_ONLY_MODULES and node.level == 0 and not self.guarded:
            self.erased.update(alias.asname or alias.name for alias in node.names)
            return None
        if node.level > 0:  # a sibling module: its aliases are gone from it
            kept = [alias for alias in node.names if alias.name not in self.sibling_aliases]
            self.erased.update(
                alias.asname or alias.name for alias in node.names if alias not in kept
            )
            if not kept:
                return None
            node.names = kept
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST | None:
        if self.guarded:
            return node
        kept = [alias for alias in node.names if alias.name not in TYPE_ONLY_MODULES]
        self.erased.update(alias.asname or alias.name for alias in node.names if alias not in kept)
        if not kept:
            return None
        node.names = kept
        return node

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt] | None:
        if _is_type_checking(node.test):
            for child in node.body:  # what it imports exists only for the type checker
                for sub in ast.walk(child):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        self.erased.update(
                            (alias.asname or alias.name).split(".")[0] for alias in sub.names
                        )
            return self._block(node.orelse) or None
        self.generic_visit(node)
        return node

    # Annotations.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        assign: ast.AST | None = self.visit(ast.Assign(targets=[node.target], value=node.value))
        return assign

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        if _docstring(node.body):
            node.body.pop(0)
        node.returns = None
        arguments = node.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            arg.annotation = None
        for rest in (arguments.vararg, arguments.kwarg):
            if rest is not None:
                rest.annotation = None
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        if _docstring(node.body):
            node.body.pop(0)
        # ``Settable[T]`` is ``Settable`` at run time (MicroPython classes take no subscript).
        bases = [base.value if isinstance(base, ast.Subscript) else base for base in node.bases]
        node.bases = [base for base in bases if not _reads(base) & self.erased]
        self.generic_visit(node)
        return node

    # Names built only from erased ones.
    def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
        self.generic_visit(node)  # first, so that a cast() in the value is gone
        names = [target.id for target in node.targets if isinstance(target, ast.Name)]
        if (
            len(names) == len(node.targets)
            and _is_type_expression(node.value)
            and _reads(node.value) & self.erased
        ):
            self.erased.update(names)
            self.aliases.update(names)
            return None
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "cast" and "cast" in self.erased:
            return node.args[1]
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        if _docstring(node.body):
            node.body.pop(0)
        self.generic_visit(node)
        return node


def erase(
    source: str, name: str, sibling_aliases: set[str]
) -> tuple[ast.Module, set[str], list[str]]:
    """``source``'s tree with its types erased, the aliases it no longer defines, and where it
    still reads an erased name (``module:line: name``; the build refuses those)."""
    eraser = _Erase(sibling_aliases)
    tree = eraser.visit(ast.parse(source))
    for node in ast.walk(tree):  # a block left empty (it held only annotations) gets a pass
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if field == "body" and isinstance(block, list) and not block:
                block.append(ast.Pass())
    used = [
        f"{name}:{node.lineno}: {node.id}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in eraser.erased
    ]
    return tree, eraser.aliases, used


def _compact(tree: ast.Module) -> str:
    text = ast.unparse(ast.fix_missing_locations(tree))
    # ast.unparse writes every string on one line, so each line starts with indentation only.
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        lines.append(" " * ((len(line) - len(stripped)) // 4) + stripped)
    compact = "\n".join(lines) + "\n"
    if ast.dump(ast.parse(compact)) != ast.dump(ast.parse(text)):
        raise RuntimeError("compacting changed the program")  # never ship a changed program
    return compact


def page_sources(sources: dict[str, str]) -> dict[str, str]:
    """Every module of ``sources`` (path -> text, one package) as a page runs it."""
    aliases: set[str] = set()
    # Two rounds: the first learns which aliases each module erases, the second drops their
    # imports from the modules that name them.
    for _ in range(2):
        found: set[str] = set()
        trees = {}
        used: list[str] = []
        for path, text in sources.items():
            trees[path], erased, reads = erase(text, path, aliases)
            found |= erased
            used += reads
        if found <= aliases:
            break
        aliases |= found
    if used:
        raise TypeUseError(
            "type-only names used at run time (a page's MicroPython has no typing or "
            f"collections.abc; ask masivo_web.runtime instead): {', '.join(used)}"
        )
    return {path: _compact(tree) for path, tree in trees.items()}
