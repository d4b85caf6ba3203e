"""`graphc check --types` warm, beside mypy run by hand on the same generated module (target: within 2x).

Both are whole processes with a warm mypy cache, as a user would run them; the median of 10 runs each.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "data" / "types" / "mistakes.graph"
FLAGS = ["--show-column-numbers", "--strict-equality", "--check-untyped-defs", "--follow-imports=silent"]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        env = {**os.environ, "GRAPHC_CACHE_DIR": str(work / "cache")}
        graphc = [sys.executable, "-m", "graphc", "check", "--types", "--no-prove", str(SPEC)]
        generated = work / "mistakes_graph.py"
        subprocess.run(
            [sys.executable, "-m", "graphc", "compile", str(SPEC), "-o", str(generated)],
            check=True,
            capture_output=True,
        )
        by_hand_env = {**env, "MYPYPATH": os.pathsep.join([str(SPEC.parent), str(ROOT)])}
        by_hand = [sys.executable, "-m", "mypy", *FLAGS, "--cache-dir", str(work / "hand-cache"), generated.name]
        compile_only = [sys.executable, "-m", "graphc", "compile", str(SPEC), "-o", str(generated)]
        for command, command_env in ((graphc, env), (by_hand, by_hand_env)):  # warm both caches
            timed(command, command_env, work)
        ours = [timed(graphc, env, work) for _ in range(10)]
        theirs = [timed(by_hand, by_hand_env, work) for _ in range(10)]
        compiles = [timed(compile_only, env, work) for _ in range(10)]
        in_process = _in_process_step()
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    compile_ms = statistics.median(compiles) * 1000
    print(f"graphc check --types (warm, whole command):  median {ours_ms:.0f} ms")
    print(f"mypy by hand on the generated module (warm): median {theirs_ms:.0f} ms")
    print(f"  ratio: {ours_ms / theirs_ms:.2f}x (target <= 2x)")
    print(f"graphc compile + mypy by hand (warm):        median {compile_ms + theirs_ms:.0f} ms")
    print(f"  ratio: {ours_ms / (compile_ms + theirs_ms):.2f}x")
    print(f"the type-check step alone, in process (warm): median {in_process * 1000:.0f} ms")
    print(f"  ratio to mypy by hand: {in_process * 1000 / theirs_ms:.2f}x")


def _in_process_step() -> float:
    """`typecheck()` on an already checked spec: what an editor or a long-lived process pays."""
    sys.path.insert(0, str(ROOT))
    from compiler.checks import check_spec
    from compiler.typecheck import typecheck
    from dsl.parse import parse_source
    from dsl.source import read_source

    source = read_source(SPEC)
    checked = check_spec(parse_source(source))
    typecheck(checked, source)
    runs = []
    for _ in range(10):
        start = time.perf_counter()
        typecheck(checked, source)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


if __name__ == "__main__":
    main()
