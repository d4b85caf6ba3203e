"""Runs per second for 1, 2 and 4 `graphc worker` processes on the local PostgreSQL.

1,000 runs of a 10-node graph whose nodes each sleep 50 ms (I/O-bound, the realistic
case) are submitted to a fresh database, then the workers start (`--concurrency` each);
throughput is runs / (last completion - first dequeue), read from DBOS's timestamps.
Beside it: each run's per-step overhead over the same graph run in memory
((median run time - in-memory run time) / 10).

    python bench/workers.py [RUNS] [CONCURRENCY]     # defaults: 1000 runs, 2 per worker (4: CPU-bound on 2 cores)

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

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
CONCURRENCY = int(sys.argv[2]) if len(sys.argv) > 2 else 2
NODES, PAUSE = 10, 0.05


def chain_spec() -> str:
    lines = ["graph Chain -> int", "start N0", "", "from asyncio import sleep", "", "state:", "    done: int = 0", ""]
    for i in range(NODES):
        lines += [f"node N{i}:", f"    await sleep({PAUSE})", "    state.done += 1"]
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
    print(f"{'workers':>7} {'runs/s':>8} {'vs 1':>6} {'median run':>11} {'overhead/step':>14}")
    single = None
    for workers in (1, 2, 4):
        rate, median = measure(workers, spec)
        single = single or rate
        overhead = (median - memory) / NODES * 1000
        print(f"{workers:>7} {rate:>8.1f} {rate / single:>5.2f}x {median * 1000:>9.0f} ms {overhead:>11.1f} ms")
    print("\ntarget: 4 workers >= 3.5x the single worker's throughput")


if __name__ == "__main__":
    main()
