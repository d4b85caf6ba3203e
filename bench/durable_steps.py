"""Steps per second of a durable run (DBOS on SQLite) beside LangGraph's and pydantic-graph's persistence.

One spec (a one-node loop, small state) runs for 1,000 and 10,000 steps as a durable run
(`runtime.durable`, one SQLite file, warm process) three times: as it is — its node is pure, so a
step records up to 1,000 nodes — and with the node marked `checkpoint`, a step a node (also
with DBOS building its step statements on every call, as before graphc compiled them once,
beside raw DBOS both ways: a loop of trivial steps, the floor of a step a node). Beside
it, in the same run: LangGraph's `SqliteSaver` (the same loop as a one-node `StateGraph`,
`durability="sync"`: a checkpoint committed each step, as graphc commits each), in a virtual
environment of its own; and — compiled with `--target pydantic_graph` — pydantic-graph
1.107.10 with its `FileStatePersistence` (which rewrites its whole JSON file on every
snapshot: 1,000 steps only, it is quadratic: 2,000 took 124 s) and its in-memory
`FullStatePersistence` (environments under `$GRAPHC_TEST_VENVS`, made on first use).

    python bench/durable_steps.py                       # SQLite
    python bench/durable_steps.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peers import venv_python  # noqa: E402

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


LANGGRAPH = """
import json, sys, time
from typing import TypedDict
from langgraph.graph import StateGraph, START, END
if sys.argv[1].startswith("postgresql://"):
    from langgraph.checkpoint.postgres import PostgresSaver as Saver
else:
    from langgraph.checkpoint.sqlite import SqliteSaver as Saver

class State(TypedDict):
    n: int
    last: int
    total: int

def tick(state: State) -> dict:
    return {"total": state["total"] + state["n"], "n": state["n"] + 1}

builder = StateGraph(State)
builder.add_node("tick", tick)
builder.add_edge(START, "tick")
builder.add_conditional_edges("tick", lambda s: END if s["n"] > s["last"] else "tick")

out = {}
with Saver.from_conn_string(sys.argv[1]) as saver:
    if hasattr(saver, "setup"):
        saver.setup()
    graph = builder.compile(checkpointer=saver)
    graph.invoke({"n": 0, "last": 9, "total": 0}, {"configurable": {"thread_id": "warm-up"}}, durability="sync")
    for steps in (1000, 10000):
        config = {"configurable": {"thread_id": f"loop-{steps}"}, "recursion_limit": steps + 10}
        start = time.perf_counter()
        result = graph.invoke({"n": 0, "last": steps - 1, "total": 0}, config, durability="sync")
        out[steps] = time.perf_counter() - start
        assert result["total"] == steps * (steps - 1) // 2, result
print(json.dumps(out))
"""


_MADE: list[str] = []
"""The PostgreSQL databases this run made, dropped at its end."""


def database(work: Path, name: str, postgres: str | None) -> str:
    """A new database: a SQLite file in `work`, or one on the PostgreSQL server `postgres`."""
    if postgres is None:
        return str(work / f"{name}.sqlite")
    import psycopg

    base = postgres.rsplit("/", 1)[0]
    database_name = f"graphc_bench_{name}_{work.name[-8:]}".lower().replace("-", "_")
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name}"')
        connection.execute(f'CREATE DATABASE "{database_name}"')
    _MADE.append(database_name)
    return f"{base}/{database_name}"


def drop_made(postgres: str | None) -> None:
    if postgres is None:
        return
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as connection:
        for name in _MADE:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def size_of(db: str) -> int:
    """Bytes the database takes: the SQLite file, or the PostgreSQL database."""
    if not db.startswith("postgresql://"):
        return Path(db).stat().st_size
    import psycopg

    with psycopg.connect(db) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0])


def _raw_dbos_loop(steps: int) -> int:
    """A DBOS workflow of `steps` trivial steps, the state passed from one to the next: what DBOS alone costs."""
    from dbos import DBOS

    handle = DBOS.start_workflow(_raw_workflow(), steps)
    return int(handle.get_result(polling_interval_sec=0.01))


def _raw_workflow() -> Any:
    """The raw DBOS loop's workflow and step, registered once (before DBOS launches, as DBOS asks)."""
    global _RAW
    if _RAW is None:
        from dbos import DBOS

        @DBOS.step(name="bench.raw_step")
        def step(state: dict[str, int]) -> dict[str, int]:
            return {"n": state["n"] + 1, "total": state["total"] + state["n"]}

        @DBOS.workflow(name="bench.raw_loop")
        def loop(steps: int) -> int:
            state = {"n": 0, "total": 0}
            for _ in range(steps):
                state = step(state)
            return state["total"]

        _RAW = loop
    return _RAW


_RAW: Any = None


def main() -> None:
    _raw_workflow()  # registered before the first launch
    from compiler import compile_spec, load
    from runtime.durable import DurableRuns

    postgres = sys.argv[sys.argv.index("--postgres") + 1] if "--postgres" in sys.argv else None
    kind = "PostgreSQL" if postgres else "SQLite"
    work = Path(tempfile.mkdtemp(prefix="graphc-bench-"))
    rows: list[tuple[str, int, float]] = []
    sizes: dict[str, int] = {}  # bytes a step, over the warm-up, 1,000 and 10,000-step runs
    empty = size_of(database(work, "empty", postgres)) if postgres else 0
    checkpoint = SPEC.replace("last: int = 1000):", "last: int = 1000) checkpoint:")
    for label, source, own in (
        (f"graphc durable, {kind} (DBOS): pure node, batched", SPEC, False),
        (f"graphc durable, {kind} (DBOS): `checkpoint`, a step a node", checkpoint, False),
        (f"graphc durable, {kind} (DBOS): `checkpoint`, DBOS's own statements", checkpoint, True),
    ):
        # DBOS's own statements: as built by DBOS on every call (graphc compiles its step statements once)
        os.environ["GRAPHC_DBOS_STATEMENTS"] = "dbos" if own else ""
        spec = work / f"loop_{len(rows)}.graph"
        spec.write_text(source)
        graph = load(spec)
        db = database(work, f"graphc{len(rows)}", postgres)
        runs = DurableRuns(db)
        tick: Any = graph.node_types["Tick"]  # made from the spec: its fields are unknown to a type checker
        runs.start(graph, tick(0, 9))  # DBOS launched, tables made
        for steps in (1000, 10000):
            start = time.perf_counter()
            info = runs.start(graph, tick(0, steps - 1))
            elapsed = time.perf_counter() - start
            assert info.status == "success" and info.output == steps * (steps - 1) // 2, info
            rows.append((label, steps, elapsed))
        if "checkpoint" in label:  # the floor: DBOS itself, one trivial step after another, same settings
            statements = "DBOS's own statements" if own else "graphc's settings and statements"
            for steps in (1000, 10000):
                start = time.perf_counter()
                assert _raw_dbos_loop(steps) == steps * (steps - 1) // 2
                rows.append((f"raw DBOS {kind}, a step a step ({statements})", steps, time.perf_counter() - start))
        runs.close()
        sizes[label] = size_of(db) - empty
    os.environ.pop("GRAPHC_DBOS_STATEMENTS")
    packages = ["langgraph", "langgraph-checkpoint-sqlite", "langgraph-checkpoint-postgres", "psycopg[binary]"]
    langgraph = venv_python("langgraph", packages)
    peer_name = f"LangGraph {'PostgresSaver' if postgres else 'SqliteSaver'}, durability=sync"
    if langgraph is not None:
        db = database(work, "langgraph", postgres)
        done = subprocess.run([str(langgraph), "-c", LANGGRAPH, db], capture_output=True, text=True, check=True)
        for steps, elapsed in json.loads(done.stdout).items():
            rows.append((peer_name, int(steps), elapsed))
        sizes[peer_name] = size_of(db) - empty
    (work / "loop_graph.py").write_text(compile_spec(work / "loop_0.graph", target="pydantic_graph").source)
    python = venv_python("pydantic-graph-1.107.10", ["pydantic-graph==1.107.10"])
    if python is not None and postgres is None:
        done = subprocess.run([str(python), "-c", PEER, str(work)], capture_output=True, text=True, check=True)
        for key, (elapsed, _) in json.loads(done.stdout).items():
            kind, steps = key.split()
            name = "FileStatePersistence" if kind == "file" else "FullStatePersistence (memory)"
            rows.append((f"pydantic-graph 1.107.10 {name}", int(steps), elapsed))
    print(f"{'run':<72} {'steps':>7} {'seconds':>9} {'steps/s':>9}")
    for name, steps, elapsed in rows:
        print(f"{name:<72} {steps:>7,} {elapsed:>9.3f} {steps / elapsed:>9,.0f}")
    times = {(name.split(":")[-1].strip() if name.startswith("graphc") else name, steps): e for name, steps, e in rows}
    for steps in (1000, 10000):
        peer = times.get((peer_name, steps))
        if peer is not None:
            batched, each = times[("pure node, batched", steps)], times[("`checkpoint`, a step a node", steps)]
            dbos_built = times[("`checkpoint`, DBOS's own statements", steps)]
            print(
                f"\n{steps:,} steps: graphc {peer / batched:.1f}x LangGraph's steps/s batched, "
                f"{peer / each:.2f}x a step a node (target >= 1x; {peer / dbos_built:.2f}x with DBOS's own statements)",
                end="",
            )
    per_node = {steps: times[("`checkpoint`, a step a node", steps)] for steps in (1000, 10000)}
    print(f"\n\na step a node, 10,000 / 1,000 steps: {per_node[10000] / per_node[1000]:.1f}x the time (linear: 10x)")
    total = 10 + 1000 + 10000
    print("\nstorage per step (each database, over its 11,010 steps):")
    for name, size in sizes.items():
        print(f"  {name:<66} {size / total:>8,.0f} bytes")


if __name__ == "__main__":
    try:
        main()
    finally:
        drop_made(sys.argv[sys.argv.index("--postgres") + 1] if "--postgres" in sys.argv else None)
