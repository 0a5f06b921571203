"""The checkout's browser launch settings (``playwright.config.py`` at its root), loaded the one
way the demo, the reliability run, the browser tests and the benchmarks share."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

#: The checkout's settings file.
CONFIG = Path(__file__).resolve().parents[2] / "playwright.config.py"


def load() -> ModuleType:
    """``playwright.config.py`` as a module (its ``launch_options()``, timeouts, paths); a
    FileNotFoundError saying so outside a checkout."""
    spec = importlib.util.spec_from_file_location("playwright_config", CONFIG)
    if spec is None or spec.loader is None or not CONFIG.exists():
        raise FileNotFoundError(f"{CONFIG} is missing: the browser tools run from a checkout.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
