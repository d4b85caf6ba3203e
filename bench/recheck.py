"""In-process parse + check of a 1,000-line spec, as the language server does it after each change.

    python bench/recheck.py

Target (issue "speed where users feel it"): an editor's re-check of a 1,000-line spec within
30 ms. Medians of 21 runs: an edit inside one line (the common keystroke), an edit that adds a
line at the top (every declaration moves, so every node is built again), and a cold parse + check
(no cache), in one run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specgen import graph_spec

from compiler.checks import check_spec
from dsl.parse import parse_source
from dsl.source import source_from_text

RUNS = 21


def median_ms(step: Callable[[int], object]) -> float:
    times = []
    for run in range(RUNS):
        start = time.perf_counter()
        step(run)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    text = graph_spec(166)
    lines = text.count("\n")
    cache: dict[str, Any] = {}

    def recheck(edited: str) -> None:
        check_spec(parse_source(source_from_text("bench.graph", edited), cache=cache))

    recheck(text)
    in_line = median_ms(lambda run: recheck(text.replace("count + 3\n", f"count + {run + 10}\n", 1)))
    recheck(text)
    moved = median_ms(lambda run: recheck("# edit\n" * (run + 1) + text))
    cold = median_ms(lambda _run: check_spec(parse_source(source_from_text("bench.graph", text))))
    print(f"{lines:,}-line spec, parse + check in process, median of {RUNS}:")
    print(f"  re-check after an edit inside a line: {in_line:.1f} ms (target <= 30)")
    print(f"  re-check after a line added at the top (every node moves): {moved:.1f} ms")
    print(f"  cold, no cache: {cold:.1f} ms")


if __name__ == "__main__":
    main()
