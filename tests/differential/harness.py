"""Load the same graph module against `runtime` and against pydantic_graph 0.0.39, and observe runs."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

GRAPHS = Path(__file__).parent / "graphs"
LIBS = ("runtime", "pydantic_graph")


def load_variant(name: str, lib: str) -> types.ModuleType:
    """Import `graphs/<name>.py` with `GRAPHLIB` replaced by `lib`."""
    module_name = f"difft_{name}_{lib}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    source = (GRAPHS / f"{name}.py").read_text().replace("GRAPHLIB", lib)
    module = types.ModuleType(module_name)
    module.__file__ = str(GRAPHS / f"{name}.py")
    sys.modules[module_name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def normalise(text: str) -> str:
    """Remove what legitimately differs between the two variants: module names."""
    return re.sub(r"difft_(\w+?)_(runtime|pydantic_graph)", r"difft_\1", text)


def describe_error(error: BaseException) -> dict[str, str]:
    return {"type": type(error).__name__, "message": normalise(str(error))}


def history_json(graph: Any, history: list[Any]) -> list[dict[str, Any]]:
    steps = json.loads(graph.dump_history(history))
    for step in steps:
        for key in ("start_ts", "duration", "ts"):
            step.pop(key, None)
    return steps


def observe(module: types.ModuleType, scenario: str) -> dict[str, Any]:
    """Run one scenario three ways (run, async for, manual next) and record what is visible."""
    graph = module.graph
    observed: dict[str, Any] = {}

    start, state, deps = module.SCENARIOS[scenario]()
    try:
        result = asyncio.run(graph.run(start, state=state, deps=deps))
    except Exception as error:  # recorded and compared
        observed["run_error"] = describe_error(error)
        observed["state_after_error"] = repr(state)
    else:
        observed["output"] = repr(result.output)
        observed["state"] = repr(result.state)
        observed["history"] = history_json(graph, result.history)
        observed["history_reprs"] = [
            normalise(repr(step.node if step.kind == "node" else step.result)) for step in result.history
        ]
        observed["history_states"] = [repr(step.state) for step in result.history if step.kind == "node"]
        reloaded = graph.load_history(graph.dump_history(result.history))
        observed["reloaded"] = [repr(step.node if step.kind == "node" else step.result) for step in reloaded]

    start, state, deps = module.SCENARIOS[scenario]()

    async def iterate() -> list[str]:
        seen: list[str] = []
        async with graph.iter(start, state=state, deps=deps) as run:
            seen.append(repr(run.next_node))
            async for node in run:
                seen.append(f"{node!r} / {run.state!r}")
            seen.append(repr(run.result and run.result.output))
            seen.append(str(len(run.history)))
            try:
                await run.next()
            except Exception as error:
                seen.append(json.dumps(describe_error(error)))
        return seen

    try:
        observed["iter"] = asyncio.run(iterate())
    except Exception as error:
        observed["iter_error"] = describe_error(error)

    start, state, deps = module.SCENARIOS[scenario]()

    async def drive() -> list[str]:
        history: list[Any] = []
        node: Any = start
        seen = []
        from_lib = sys.modules[type(graph).__module__.split(".")[0]]
        while not isinstance(node, from_lib.End):
            node = await graph.next(node, history, state=state, deps=deps)
            seen.append(repr(node))
        try:
            await graph.next(node, history, state=state, deps=deps)
        except Exception as error:
            seen.append(json.dumps(describe_error(error)))
        seen.append(str(len(history)))
        return seen

    try:
        observed["next"] = asyncio.run(drive())
    except Exception as error:
        observed["next_error"] = describe_error(error)
    return observed
