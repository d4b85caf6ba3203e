"""Steps per second of a durable run (DBOS on SQLite) beside pydantic-graph 1.107.10's persistence.

One spec (a one-node loop, small state) runs for 1,000 and 10,000 steps as a durable run
(`runtime.durable`, one SQLite file, warm process), and — compiled with `--target
pydantic_graph` — on pydantic-graph 1.107.10 with its `FileStatePersistence` (which
rewrites its whole JSON file on every snapshot: 1,000 steps only, it is quadratic:
2,000 took 124 s) and its in-memory `FullStatePersistence`, in a virtual environment of its own
(`$GRAPHC_TEST_VENVS/pydantic-graph-1.107.10`, made on first use as the test suite does).

    python bench/durable_steps.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """graph Loop -> int
start Tick

state:
    total: int = 0

node Tick(n: int = 0, last: int = 1000):
    state.total += n
    if n >= last -> End(state.total)
    -> Tick(n + 1, last)
"""

PEER = """
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
from loop_graph import Tick, LoopState, graph
from pydantic_graph.persistence.file import FileStatePersistence
from pydantic_graph.persistence.in_mem import FullStatePersistence

async def timed(steps, make):
    persistence = make()
    start = time.perf_counter()
    result = await graph.run(Tick(0, steps - 1), state=LoopState(), persistence=persistence)
    return time.perf_counter() - start, result.output

out = {}
for steps in (1000,):
    path = f"{sys.argv[1]}/file-{steps}.json"
    out[f"file {steps}"] = asyncio.run(timed(steps, lambda: FileStatePersistence(__import__("pathlib").Path(path))))
for steps in (1000, 10000):
    out[f"memory {steps}"] = asyncio.run(timed(steps, FullStatePersistence))
print(json.dumps(out))
"""


def peer_python() -> Path | None:
    venvs = Path(os.environ.get("GRAPHC_TEST_VENVS") or Path.home() / ".cache" / "graphc-test-venvs")
    venv = venvs / "pydantic-graph-1.107.10"
    python = venv / "bin" / "python"
    if not (venv / "installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pydantic-graph==1.107.10"], check=True)
        (venv / "installed").write_text("pydantic-graph==1.107.10\n")
    return python


def main() -> None:
    from compiler import compile_spec, load
    from runtime.durable import DurableRuns

    work = Path(tempfile.mkdtemp(prefix="graphc-bench-"))
    spec = work / "loop.graph"
    spec.write_text(SPEC)
    graph = load(spec)
    runs = DurableRuns(str(work / "runs.sqlite"))
    tick = graph.node_types["Tick"]
    runs.start(graph, tick(0, 9), run_id="warm-up")  # DBOS launched, tables made
    rows: list[tuple[str, int, float]] = []
    for steps in (1000, 10000):
        start = time.perf_counter()
        info = runs.start(graph, tick(0, steps - 1), run_id=f"steps-{steps}")
        elapsed = time.perf_counter() - start
        assert info.status == "success" and info.output == steps * (steps - 1) // 2, info
        rows.append(("graphc durable, SQLite (DBOS)", steps, elapsed))
    (work / "loop_graph.py").write_text(compile_spec(spec, target="pydantic_graph").source)
    python = peer_python()
    if python is not None:
        done = subprocess.run([str(python), "-c", PEER, str(work)], capture_output=True, text=True, check=True)
        for key, (elapsed, _) in json.loads(done.stdout).items():
            kind, steps = key.split()
            name = "FileStatePersistence" if kind == "file" else "FullStatePersistence (memory)"
            rows.append((f"pydantic-graph 1.107.10 {name}", int(steps), elapsed))
    print(f"{'run':<55} {'steps':>7} {'seconds':>9} {'steps/s':>9}")
    for name, steps, elapsed in rows:
        print(f"{name:<55} {steps:>7,} {elapsed:>9.3f} {steps / elapsed:>9,.0f}")
    durable = {steps: elapsed for name, steps, elapsed in rows if name.startswith("graphc")}
    file_1000 = next((e for n, s, e in rows if "File" in n and s == 1000), None)
    print(
        f"\ndurable 10,000 / 1,000 steps: {durable[10000] / durable[1000]:.1f}x the time (linear: 10x; target <= 11x)"
    )
    if file_1000 is not None:
        print(f"durable vs FileStatePersistence at 1,000 steps: {file_1000 / durable[1000]:.1f}x faster (target > 1x)")


if __name__ == "__main__":
    main()
