"""A 1,000-item map of 10 ms async nodes, at most 50 at once: graphc beside its floor and beside LangGraph.

- plain (in memory): a spec whose transition runs a one-node sub-graph per item, `limit 50`,
  beside `asyncio.gather` with a semaphore of 50 doing the same 1,000 awaits of 10 ms — the
  floor (target: within 1.3x of it);
- durable on SQLite: the same spec as a durable run (`runtime.durable`, started here: the
  items run on the run's own loop, each one's outcome written to `graphc_items` as it ends),
  beside LangGraph's `Send` fan-out (`max_concurrency=50`) with its SQLite checkpointer
  (`AsyncSqliteSaver`), in a virtual environment of its own
  (`$GRAPHC_TEST_VENVS/langgraph`, made on first use; skipped if it cannot be made).

    python bench/fanout.py [ITEMS]
"""

from __future__ import annotations

import asyncio
import json
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

ITEM = """graph Item -> int
start Work

from asyncio import sleep

node Work(n: int):
    await sleep(0.01)
    -> End(n * n)
"""

FAN = """graph Fan -> int
start Spread

use Item from "item.graph"

node Spread(count: int = 1000):
    -> Total([Item(n=n) for n in range(count)]) limit 50

node Total(values: list[int]):
    -> End(sum(values))
"""

PEER = """
import asyncio, json, operator, sys, time
from typing import Annotated, TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import Send
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

class State(TypedDict):
    count: int
    values: Annotated[list[int], operator.add]
    total: int

class Item(TypedDict):
    n: int

async def work(item: Item) -> dict:
    await asyncio.sleep(0.01)
    return {"values": [item["n"] * item["n"]]}

def spread(state: State) -> list[Send]:
    return [Send("work", {"n": n}) for n in range(state["count"])]

def total(state: State) -> dict:
    return {"total": sum(state["values"])}

builder = StateGraph(State)
builder.add_node("work", work)
builder.add_node("total", total)
builder.add_conditional_edges(START, spread, ["work"])
builder.add_edge("work", "total")
builder.add_edge("total", END)

async def main(path: str, count: int) -> None:
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "warm-up"}, "max_concurrency": 50}
        await graph.ainvoke({"count": 10, "values": []}, config)
        config = {"configurable": {"thread_id": "fan"}, "max_concurrency": 50}
        start = time.perf_counter()
        out = await graph.ainvoke({"count": count, "values": []}, config)
        elapsed = time.perf_counter() - start
    assert out["total"] == sum(n * n for n in range(count)), out["total"]
    print(json.dumps({"seconds": elapsed}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def floor(count: int) -> float:
    """`asyncio.gather` under a semaphore of 50: the same awaits, no graph."""
    gate = asyncio.Semaphore(50)

    async def one(n: int) -> int:
        async with gate:
            await asyncio.sleep(0.01)
            return n * n

    start = time.perf_counter()
    values = await asyncio.gather(*(one(n) for n in range(count)))
    elapsed = time.perf_counter() - start
    assert sum(values) == sum(n * n for n in range(count))
    return elapsed


def main() -> None:
    from compiler import load
    from runtime.durable import DurableRuns

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    work = Path(tempfile.mkdtemp(prefix="graphc-fanout-"))
    (work / "item.graph").write_text(ITEM)
    (work / "fan.graph").write_text(FAN)
    graph = load(work / "fan.graph", allowed_imports=None)
    spread: Any = graph.node_types["Spread"]  # made from the spec: its fields are unknown to a type checker
    expected = sum(n * n for n in range(count))
    graph.run_sync(spread(count=10))  # warm: adapters and classes made
    rows: list[tuple[str, float]] = []
    plain, floors = [], []
    for _ in range(5):  # interleaved, medians: these machines are noisy
        floors.append(asyncio.run(floor(count)))
        start = time.perf_counter()
        assert graph.run_sync(spread(count=count)).output == expected
        plain.append(time.perf_counter() - start)
    rows += [("asyncio.gather + Semaphore(50) (floor)", sorted(floors)[2]), ("graphc, plain run", sorted(plain)[2])]
    runs = DurableRuns(str(work / "runs.sqlite"))
    try:
        runs.start(graph, spread(count=10), run_id="warm-up")
        start = time.perf_counter()
        info = runs.start(graph, spread(count=count), run_id="fan")
        rows.append(("graphc durable, SQLite (items recorded as they end)", time.perf_counter() - start))
        assert info.status == "success" and info.output == expected, info
    finally:
        runs.close()
    python = venv_python("langgraph", ["langgraph", "langgraph-checkpoint-sqlite", "aiosqlite"])
    if python is not None:
        done = subprocess.run(
            [str(python), "-c", PEER, str(work / "langgraph.sqlite"), str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(("LangGraph Send + AsyncSqliteSaver", json.loads(done.stdout)["seconds"]))
    print(f"{count:,} items of 10 ms, at most 50 at once (medians of 5 for the in-memory rows)\n")
    print(f"{'run':<55} {'seconds':>9} {'items/s':>9}")
    for name, elapsed in rows:
        print(f"{name:<55} {elapsed:>9.3f} {count / elapsed:>9,.0f}")
    times = dict(rows)
    ratio = times["graphc, plain run"] / times["asyncio.gather + Semaphore(50) (floor)"]
    print(f"\nplain run / floor: {ratio:.2f}x (target <= 1.3x)")
    if "LangGraph Send + AsyncSqliteSaver" in times:
        durable = times["graphc durable, SQLite (items recorded as they end)"]
        peer = times["LangGraph Send + AsyncSqliteSaver"]
        print(f"durable: graphc {durable:.2f} s, LangGraph {peer:.2f} s: graphc takes {durable / peer:.2f}x its time")


if __name__ == "__main__":
    main()
