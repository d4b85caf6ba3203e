"""Command-line latency: `graphc --help`, `graphc check` and `graphc fmt --check` beside `python -c pass`.

Targets (issue "speed where users feel it"): check and fmt --check on the support desk spec
within 5x of `python -c pass`, `--help` within 3x. Median of 21 runs each, taken in turn, all in one run.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = str(ROOT / "examples" / "support_desk.graph")
RUNS = 21


def median_seconds(commands: list[list[str]]) -> list[float]:
    """Each command's median time, the runs taken in turn (a busy spell of the machine hits them all alike)."""
    times: list[list[float]] = [[] for _ in commands]
    for command in commands:
        subprocess.run(command, capture_output=True, check=False)  # warm the disk
    for _ in range(RUNS):
        for command, taken in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=False)
            taken.append(time.perf_counter() - start)
    return [statistics.median(taken) for taken in times]


def main() -> None:
    graphc = shutil.which("graphc")
    base = [graphc] if graphc else [sys.executable, "-m", "graphc"]
    rows = [
        ("graphc --help", [*base, "--help"], 3),
        ("graphc check support_desk.graph --no-prove", [*base, "check", SPEC, "--no-prove"], 5),
        ("graphc fmt --check support_desk.graph", [*base, "fmt", "--check", SPEC], 5),
    ]
    if importlib.util.find_spec("z3") is not None:
        rows.append(
            (
                "graphc check support_desk.graph (prover on; its verdict cached by the warm-up run)",
                [*base, "check", SPEC],
                5,
            )
        )
    floor, *medians = median_seconds([[sys.executable, "-c", "pass"], *(command for _, command, _ in rows)])
    print(f"python -c pass: {floor * 1000:.0f} ms (the floor)")
    for (name, _, target), seconds in zip(rows, medians, strict=True):
        print(f"{name}: {seconds * 1000:.0f} ms = {seconds / floor:.1f}x the floor (target <= {target}x)")


if __name__ == "__main__":
    main()
