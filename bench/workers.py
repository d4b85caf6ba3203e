"""Runs per second for 1, 2 and 4 `graphc worker` processes on the local PostgreSQL, beside LangGraph.

1,000 runs of a 10-node graph whose nodes each sleep 50 ms (I/O-bound, the realistic
case) are submitted to a fresh database, then the workers start (`--concurrency` each);
throughput is runs / (last completion - first dequeue), read from DBOS's timestamps.
Beside it: each run's per-step overhead over the same graph run in memory
((median run time - in-memory run time) / 10), and the peer: the same chain as a LangGraph
`StateGraph` checkpointed by `AsyncPostgresSaver` (`durability="sync"`), the runs split over
the same number of processes, each running `--concurrency` at once; its throughput is runs /
(last end - first start), the processes' start-up left out as the workers' is. With
PAUSE_MS 0 graphc's nodes are pure, so a run is recorded as one step where LangGraph
checkpoints each node: the purity lever, measured as a user would meet it.

    python bench/workers.py [RUNS] [CONCURRENCY] [PAUSE_MS]
    # defaults: 1000 runs, 2 per worker (4: CPU-bound on 2 cores), 50 ms a node (0: short CPU-bound runs)

Needs PostgreSQL at `$GRAPHC_TEST_POSTGRES_URL` or postgresql://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from peers import venv_python  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 2
NODES, PAUSE = 10, (float(sys.argv[3]) if len(sys.argv) > 3 else 50) / 1000
PEER = """
import asyncio, json, sys, time
from typing import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

url, first, count, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
pause, concurrency = float(sys.argv[5]), int(sys.argv[6])

class State(TypedDict):
    done: int

async def step(state: State) -> dict:
    if pause:
        await asyncio.sleep(pause)
    return {"done": state["done"] + 1}

builder = StateGraph(State)
for i in range(nodes):
    builder.add_node(f"n{i}", step)
builder.add_edge(START, "n0")
for i in range(nodes - 1):
    builder.add_edge(f"n{i}", f"n{i + 1}")
builder.add_edge(f"n{nodes - 1}", END)

async def main() -> None:
    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        if first < 0:
            await saver.setup()
            return
        graph = builder.compile(checkpointer=saver)
        gate = asyncio.Semaphore(concurrency)

        async def one(k: int) -> None:
            async with gate:
                out = await graph.ainvoke({"done": 0}, {"configurable": {"thread_id": f"t{k}"}}, durability="sync")
                assert out["done"] == nodes, out

        start = time.time()
        await asyncio.gather(*(one(k) for k in range(first, first + count)))
        print(json.dumps([start, time.time()]))

asyncio.run(main())
"""


def chain_spec() -> str:
    lines = ["graph Chain -> int", "start N0", "", "from asyncio import sleep", "", "state:", "    done: int = 0", ""]
    for i in range(NODES):
        lines += [f"node N{i}:", *([f"    await sleep({PAUSE})"] if PAUSE else []), "    state.done += 1"]
        lines += [f"    -> N{i + 1}()" if i < NODES - 1 else "    -> End(state.done)", ""]
    return "\n".join(lines)


def server() -> str:
    return os.environ.get("GRAPHC_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database() -> str:
    import psycopg

    name = f"graphc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server().rpartition('/')[0]}/{name}"


def drop(url: str) -> None:
    import psycopg

    with psycopg.connect(server(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def measure(workers: int, spec: Path) -> tuple[float, float]:
    """Runs per second with `workers` processes, and the median seconds a run took from dequeue to end."""
    from compiler import load
    from dsl.source import read_source
    from runtime.durable import DurableRuns

    url = fresh_database()
    runs = DurableRuns(url)
    graph, source = load(spec), read_source(spec)
    start = graph.node_types["N0"]
    ids = [runs.submit("chain.graph", source.text, graph, start()) for _ in range(RUNS)]
    command = [sys.executable, "-m", "graphc", "worker", "--db", url, "--concurrency", str(CONCURRENCY)]
    command += ["--allow-import", "asyncio"]  # a worker compiles no import it was not allowed
    processes = [
        subprocess.Popen([*command, "--id", f"bench-{i}"], cwd=ROOT, stderr=subprocess.DEVNULL) for i in range(workers)
    ]
    client = runs._db()
    assert client is not None
    try:
        while len(client.list_workflows(status=["SUCCESS", "ERROR"], load_input=False, load_output=False)) < RUNS:
            time.sleep(1)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
    done = client.list_workflows(workflow_ids=ids, load_input=False, load_output=False)
    failed = [s for s in done if s.status != "SUCCESS"]
    assert not failed, f"{len(failed)} runs failed, e.g. {failed[0].error}"
    first = min(s.dequeued_at or 0 for s in done)
    last = max(s.updated_at or 0 for s in done)
    durations = [((s.updated_at or 0) - (s.dequeued_at or 0)) / 1000 for s in done]
    runs.close()
    drop(url)
    return RUNS / ((last - first) / 1000), statistics.median(durations)


def peer_rate(python: Path, processes: int) -> float:
    """Runs per second of the LangGraph chain split over `processes` processes, on a fresh database."""
    import json

    url = fresh_database()
    try:
        settings = [str(NODES), str(PAUSE), str(CONCURRENCY)]
        subprocess.run([str(python), "-c", PEER, url, "-1", "0", *settings], check=True)  # its tables
        shares = [RUNS // processes + (i < RUNS % processes) for i in range(processes)]
        starts = [sum(shares[:i]) for i in range(processes)]
        running = [
            subprocess.Popen([str(python), "-c", PEER, url, str(first), str(count), *settings], stdout=subprocess.PIPE)
            for first, count in zip(starts, shares, strict=True)
        ]
        spans = [json.loads(process.communicate()[0]) for process in running]
        assert all(process.returncode == 0 for process in running)
        return float(RUNS / (max(end for _, end in spans) - min(start for start, _ in spans)))
    finally:
        drop(url)


def in_memory_seconds(spec: Path) -> float:
    from compiler import load

    graph = load(spec)
    graph.run_sync(graph.node_types["N0"]())
    started = time.perf_counter()
    graph.run_sync(graph.node_types["N0"]())
    return time.perf_counter() - started


def main() -> None:
    spec = Path(tempfile.mkdtemp(prefix="graphc-bench-")) / "chain.graph"
    spec.write_text(chain_spec())
    memory = in_memory_seconds(spec)
    print(f"{RUNS:,} runs of a {NODES}-node graph, {PAUSE * 1000:.0f} ms per node, --concurrency {CONCURRENCY}")
    print(f"in memory, one run: {memory * 1000:.0f} ms\n")
    peer = venv_python("langgraph", ["langgraph", "langgraph-checkpoint-postgres", "psycopg[binary]"])
    print(f"{'workers':>7} {'runs/s':>8} {'vs 1':>6} {'median run':>11} {'overhead/step':>14}", end="")
    print(f" {'LangGraph':>10} {'vs it':>6}")
    single = None
    for workers in (1, 2, 4):
        rate, median = measure(workers, spec)
        single = single or rate
        overhead = (median - memory) / NODES * 1000
        row = f"{workers:>7} {rate:>8.1f} {rate / single:>5.2f}x {median * 1000:>9.0f} ms {overhead:>11.1f} ms"
        if peer is not None:
            theirs = peer_rate(peer, workers)
            row += f" {theirs:>10.1f} {rate / theirs:>5.2f}x"
        print(row)
    print("\ntargets: 4 workers >= 3.5x the single worker's throughput; >= LangGraph's in as many processes")


if __name__ == "__main__":
    main()
