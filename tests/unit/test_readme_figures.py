"""The README's benchmark figures are the last `make bench` run's (benchmarks/results.json, which
the run writes beside BENCHMARKS.md): each "~N" is that run's median within the 10% a "~"
allows, so a figure cannot stay typed while the code and the machine move on."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
RESULTS = json.loads((ROOT / "benchmarks" / "results.json").read_text())["results"]
TOLERANCE = 0.10

PYODIDE = "masivo_web"
PYSCRIPT = "masivo_web, PyScript"
PRECOMPILED = "masivo_web, precompiled"
MICROPYTHON = "masivo_web, MicroPython"
MICROPYTHON_MPY = "masivo_web, MicroPython .mpy"
MICROPYTHON_GC = "masivo_web, MicroPython, gc.threshold 1 MiB"


def median(variant: str, key: str) -> float:
    return float(statistics.median(run[key] for run in RESULTS[variant]))


def posthog_first_event() -> float:
    return min(
        median(name, "first_ack_from_navigation_ms") for name in RESULTS if "posthog" in name
    )


#: (a pattern whose groups are "~N" figures, the value each stands for, in the README's unit)
FIGURES: list[tuple[str, list[Callable[[], float]]]] = [
    (
        r"~(\d+) µs of main thread per tracking call",
        [lambda: median(PYODIDE, "per_call_median_us")],
    ),
    (
        r"first event acknowledged ~([\d.]+) s after navigation instead of ~([\d.]+) s",
        [
            lambda: median(MICROPYTHON, "first_ack_from_navigation_ms") / 1000,
            lambda: median(PYSCRIPT, "first_ack_from_navigation_ms") / 1000,
        ],
    ),
    (
        r"\| interpreter and PyScript download \| ~([\d.]+) MB \(gzip\) \| ~([\d.]+) MB \|",
        [
            lambda: median(PYSCRIPT, "runtime_bytes") / 1e6,
            lambda: median(MICROPYTHON, "runtime_bytes") / 1e6,
        ],
    ),
    (
        r"\| first event acknowledged, from navigation \| ~([\d.]+) s \| ~([\d.]+) s, ~([\d.]+) s "
        r"with the `\.mpy` build \(posthog-js: ~([\d.]+) s\) \|",
        [
            lambda: median(PYSCRIPT, "first_ack_from_navigation_ms") / 1000,
            lambda: median(MICROPYTHON, "first_ack_from_navigation_ms") / 1000,
            lambda: median(MICROPYTHON_MPY, "first_ack_from_navigation_ms") / 1000,
            lambda: posthog_first_event() / 1000,
        ],
    ),
    (
        r"\| `import masivo_web` \| ~(\d+) ms \(~(\d+) ms precompiled\) \| ~(\d+) ms "
        r"\(~(\d+) ms `\.mpy`\) \|",
        [
            lambda: median(PYODIDE, "import_ms"),
            lambda: median(PRECOMPILED, "import_ms"),
            lambda: median(MICROPYTHON, "import_ms"),
            lambda: median(MICROPYTHON_MPY, "import_ms"),
        ],
    ),
    (
        r"\| a tracking call from JS, in a 10,000-call burst \| ~(\d+) µs \| ~([\d.]+) ms with "
        r"PyScript's GC settings .*?~([\d.]+) ms after `gc\.threshold\(1 MiB\)`",
        [
            lambda: median(PYODIDE, "per_call_median_us"),
            lambda: median(MICROPYTHON, "per_call_median_us") / 1000,
            lambda: median(MICROPYTHON_GC, "per_call_median_us") / 1000,
        ],
    ),
]


BENCHMARKS = (ROOT / "BENCHMARKS.md").read_text()


def worker_figure(interpreter: str, column: int) -> float:
    """A median of the worker table ``worker_cost.py`` writes into BENCHMARKS.md."""
    row = re.search(rf"^\| {interpreter} \| ([\d.]+) \[.*?\| ([\d.]+) \[", BENCHMARKS, re.M)
    assert row is not None, f"BENCHMARKS.md has no worker row for {interpreter}"
    return float(row.group(column))


FIGURES += [
    (
        r"~(\d+) KB instead of ~(\d+) KB on the wire per 1,000 events",
        [
            lambda: median("masivo_web, gzip", "kb_per_1000"),
            lambda: median(PYODIDE, "kb_per_1000"),
        ],
    ),
    (
        r"~(\d+) µs \(Pyodide\) and ~(\d+) µs \(MicroPython\) of main-thread\s+time per "
        r"tracking call.*?a longest task of ~([\d.]+) ms\s+\(Pyodide\) and ~([\d.]+) ms",
        [
            lambda: worker_figure("Pyodide", 1),
            lambda: worker_figure("MicroPython", 1),
            lambda: worker_figure("Pyodide", 2),
            lambda: worker_figure("MicroPython", 2),
        ],
    ),
]


@pytest.mark.parametrize(("pattern", "values"), FIGURES, ids=[p[:40] for p, _ in FIGURES])
def test_a_benchmark_figure_in_the_readme_is_the_last_runs(
    pattern: str, values: list[Callable[[], float]]
) -> None:
    found = re.search(pattern, README, re.S)
    assert found is not None, f"the README no longer says {pattern!r}: update FIGURES with it"
    for shown, value in zip(found.groups(), values, strict=True):
        actual = value()
        assert abs(float(shown) - actual) <= TOLERANCE * actual, (
            f"the README says ~{shown} where the last make bench measured {actual:.3g} "
            f"({pattern!r})"
        )
