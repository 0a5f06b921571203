"""What MicroPython (PyScript's ``type="mpy"``) cannot parse or run, found in a page module.

    micropython_problems(ast.parse(source), "masivo_web/x.py") -> ["masivo_web/x.py:12: ..."]

``tests/unit/test_rules.py`` runs it on every page module, after :mod:`.erase` erased the
types (docs/runtimes.md lists the rules and what to write instead).
"""

from __future__ import annotations

import ast

from .erase import handles_import_error

#: Modules a page's MicroPython does not have (docs/runtimes.md); ``runtime`` may still import
#: them where it handles their absence.
MISSING_MODULES = frozenset(
    {"atexit", "contextlib", "dataclasses", "email", "enum", "reprlib", "secrets", "threading"}
    | {"urllib", "uuid", "typing", "__future__", "collections.abc", "types", "zlib"}
)
#: Names MicroPython does not define: an ``except`` naming one fails when it is reached.
#: (``locals()`` exists, but inside a function it returns the module's globals.)
MISSING_NAMES = frozenset(
    {"RecursionError", "UnicodeDecodeError", "TimeoutError", "vars", "locals"}
)
#: Attributes MicroPython lacks or has otherwise (``.name`` anywhere, ``module.name`` on that
#: module) -> what to use instead.
MISSING_ATTRIBUTES = {
    "isascii": "a range check of ord(c)",
    "hexdigest": "binascii.hexlify(h.digest())",
    "time.monotonic": "the clock from masivo_web.runtime",
    "os.urandom": "masivo_web.runtime's random bytes (crypto.getRandomValues)",
    "strftime": "explicit formatting",
    "base64.urlsafe_b64decode": "binascii.a2b_base64",
}
#: ``json.dumps`` keywords MicroPython refuses (it accepts only ``separators``).
JSON_KEYWORDS = frozenset({"ensure_ascii", "allow_nan", "default", "sort_keys", "indent", "cls"})


def micropython_problems(tree: ast.Module, name: str, *, adapter: bool = False) -> list[str]:
    """What in ``tree`` (a page module, types erased) MicroPython cannot parse or run, as
    ``module:line: reason``. The adapter modules (the ``runtime`` layer, which handles what
    differs) may import missing modules and use missing attributes where they checked the
    interpreter."""
    found = []

    def problem(node: ast.AST, reason: str) -> None:
        found.append(f"{name}:{getattr(node, 'lineno', 0)}: {reason}")

    guarded: set[int] = set()  # imports whose absence is handled (try/except ImportError)
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and handles_import_error(node):
            guarded.update(id(child) for statement in node.body for child in ast.walk(statement))
    for node in ast.walk(tree):
        if isinstance(node, ast.arguments) and node.posonlyargs:
            problem(node.posonlyargs[0], "positional-only parameters (/) do not parse")
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if not isinstance(getattr(node, "ctx", ast.Load()), ast.Store) and any(
                isinstance(element, ast.Starred) for element in node.elts
            ):
                problem(node, "* unpacking inside a display does not parse (use + or a loop)")
        elif isinstance(node, ast.Dict) and None in node.keys:
            problem(node, "** unpacking inside a dict display does not parse (use update())")
        elif isinstance(node, ast.comprehension) and node.is_async:
            problem(node, "async comprehensions do not parse")
        elif isinstance(node, ast.Raise) and node.cause is not None:
            if not (isinstance(node.cause, ast.Constant) and node.cause.value is None):
                problem(node, "raise ... from exc prints a warning on every raise (set __cause__)")
        elif isinstance(node, ast.Name) and node.id in MISSING_NAMES:
            problem(node, f"{node.id} does not exist")
        elif (
            isinstance(node, ast.Attribute)
            and not adapter
            and (node.attr in MISSING_ATTRIBUTES or ast.unparse(node) in MISSING_ATTRIBUTES)
        ):
            wanted = MISSING_ATTRIBUTES.get(node.attr) or MISSING_ATTRIBUTES[ast.unparse(node)]
            problem(node, f".{node.attr} does not exist: use {wanted}")
        elif isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            keywords = {keyword.arg for keyword in node.keywords}
            if callee == "zip" and "strict" in keywords:
                problem(node, "zip(strict=) is not supported")
            elif callee == "json.dumps" and keywords & JSON_KEYWORDS:
                problem(
                    node, f"json.dumps accepts only separators=, not {sorted(map(str, keywords))}"
                )
            elif (
                callee == "isinstance"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.BinOp)
            ):
                problem(node, "isinstance(x, A | B) raises: use a tuple")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not adapter:
            if id(node) in guarded:
                continue
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if node.level == 0
                else []
            )
            for module in modules:
                if module in MISSING_MODULES or module.split(".")[0] in MISSING_MODULES:
                    problem(node, f"MicroPython has no module {module}")
    return found
