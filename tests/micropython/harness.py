"""The runner of the MicroPython checks (tools/micropython_node/run_checks.mjs starts it).

A check is an ``async def check_...()`` in a ``checks_*.py`` module of this folder, written in
the subset MicroPython runs (no pytest there): it raises ``AssertionError`` to fail. Each prints
one line, ``PASS name`` or ``FAIL name: reason``; the last line is ``DONE passed failed``.
"""

import asyncio
import sys

MODULES = ("checks_core", "checks_page")
#: Longest a check may take (they use short real timers).
TIMEOUT_S = 10


async def main(only=""):
    passed = failed = 0
    for module_name in MODULES:
        module = __import__(module_name)
        names = sorted(name for name in dir(module) if name.startswith("check_"))
        for name in names:
            if only and only not in name:
                continue
            try:
                await asyncio.wait_for(getattr(module, name)(), TIMEOUT_S)
            except Exception as exc:  # a failure, whatever it is, is reported and counted
                failed += 1
                print("FAIL " + name + ": " + type(exc).__name__ + ": " + str(exc))
                sys.print_exception(exc)
            else:
                passed += 1
                print("PASS " + name)
    print("DONE " + str(passed) + " " + str(failed))
    import fakebrowser

    fakebrowser.finished()
