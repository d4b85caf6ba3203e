"""Per-step overhead of `runtime` vs pydantic-graph 0.0.39 vs a plain asyncio loop.

Runs a two-node loop graph (dataclass state, default history and snapshot) for
STEPS steps on each, in one process, and prints microseconds per step (the best of
three runs), ratios and the peak memory of each run (tracemalloc). A fourth row is the floor: the plain
loop keeping, per step, the least that records what history records.

    python bench/step_overhead.py [STEPS]
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


@dataclass
class LoopState:
    count: int = 0
    total: int = 0


def build(lib: Any) -> tuple[Any, Any]:
    """The same two-node loop against `lib` (runtime or pydantic_graph)."""

    @dataclass
    class Ping(lib.BaseNode[LoopState, None, int]):  # type: ignore[misc]
        async def run(self, ctx: Any) -> Any:
            ctx.state.count += 1
            return Pong()

    @dataclass
    class Pong(lib.BaseNode[LoopState, None, int]):  # type: ignore[misc]
        async def run(self, ctx: Any) -> Any:
            ctx.state.total += ctx.state.count
            if ctx.state.count >= STEPS // 2:
                return lib.End(ctx.state.total)
            return Ping()

    Ping.run.__annotations__["return"] = Pong
    Pong.run.__annotations__["return"] = Ping | lib.End[int]
    return lib.Graph(nodes=[Ping, Pong], name="loop"), Ping


async def plain_loop() -> int:
    """The node logic alone: no graph, no history."""
    import runtime

    _, ping = build(runtime)
    state = LoopState()
    ctx = runtime.GraphRunContext(state, None)
    node: Any = ping()
    while not isinstance(node, runtime.End):
        node = await node.run(ctx)
    return int(node.data)


async def recording_loop() -> int:
    """The plain loop plus the cheapest record of what history holds: the floor for any runtime.

    Per step, in a tuple: the node, the state's field values (all immutable: a copy can be
    built from them when read, as `runtime` does), the start time in nanoseconds and the duration.
    """
    import runtime

    _, ping = build(runtime)
    state = LoopState()
    ctx = runtime.GraphRunContext(state, None)
    node: Any = ping()
    history: list[tuple[Any, tuple[int, int], int, float]] = []
    while not isinstance(node, runtime.End):
        start_ns = time.time_ns()
        start = time.perf_counter()
        next_node = await node.run(ctx)
        history.append((node, (state.count, state.total), start_ns, time.perf_counter() - start))
        node = next_node
    return int(node.data)


async def iterate(graph: Any, start: Any) -> None:
    """The same run driven step by step with `iter` and `async for`."""
    async with graph.iter(start, state=LoopState()) as run:
        async for _node in run:
            pass


def measure(label: str, make: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    asyncio.run(make())
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # time again without tracemalloc, which slows allocation-heavy code unevenly: the best of three
    elapsed = float("inf")
    for _ in range(3):
        gc.collect()
        start = time.perf_counter()
        asyncio.run(make())
        elapsed = min(elapsed, time.perf_counter() - start)
    per_step = elapsed / STEPS * 1e6
    print(f"{label:<22} {per_step:8.2f} us/step   peak memory {peak / 2**20:8.1f} MiB")
    return per_step, peak


def main() -> None:
    import pydantic_graph

    import runtime

    ours, ours_start = build(runtime)
    theirs, theirs_start = build(pydantic_graph)
    print(f"{STEPS:,} steps, Python {sys.version.split()[0]}")
    plain, _ = measure("plain asyncio loop", plain_loop)
    floor, _ = measure("loop + history floor", recording_loop)
    mine, _ = measure("runtime", lambda: ours.run(ours_start(), state=LoopState()))
    measure("runtime, async for", lambda: iterate(ours, ours_start()))
    bare, _ = measure("runtime, history off", lambda: ours.run(ours_start(), state=LoopState(), history_limit=0))
    ref, _ = measure("pydantic-graph 0.0.39", lambda: theirs.run(theirs_start(), state=LoopState()))
    print(f"runtime is {ref / mine:.1f}x faster than pydantic-graph 0.0.39 (target >= 5x)")
    print(f"runtime is {mine / floor:.2f}x the history floor (target <= 1.25x)")
    print(f"runtime with history_limit=0 is {bare / plain:.1f}x the plain loop (target <= 2x)")
    print(f"runtime is {mine / plain:.1f}x the plain loop")
    print(
        f"floor: recording the history alone makes a loop {floor / plain:.1f}x the plain loop, "
        f"and {ref / floor:.1f}x faster than pydantic-graph is the most any runtime keeping it could be"
    )


if __name__ == "__main__":
    main()
