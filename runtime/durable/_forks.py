"""A durable run's fork: its sub-graph runs, each recorded once, then the node they join at.

Two ways, one outcome (the same join, the same history):

- **Here** (a run started or resumed in this process): the runs go as asyncio tasks on the
  run's own loop, at most `limit` at once, as in a plain run; each one's outcome (output or
  error, and its history) is written to `graphc_items` as it ends, in batches. A replay after
  a crash runs only those not recorded. A run is durable as a whole: one cut short by the
  crash runs again from its start.
- **On workers** (a submitted run): each run is a DBOS workflow of its own, `RUN:STEP:INDEX`,
  on the queue `graphc-items` every worker takes from, so the runs of one fork spread over
  the workers; the next starts as soon as any ends (DBOS records which), and a replay finds
  each where it was.

Either way the fork ends with the step `graphc.fork`, which records each run's history and
outcome and the join node. More failures than the fork tolerates fail the run at once and
cancel the runs still going.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pydantic_core
from dbos import DBOS, PortableWorkflowError, SetWorkflowID

from ..fanout import BranchRecord, ForkStep
from ..nodes import End
from ..state import EndStep, HistoryStep
from ._common import _FORK_STEP, _NODE_STEP, ITEMS_QUEUE
from ._engine import _current_engine
from ._store import _Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._workflow import _Loaded

Branch = tuple[str, "int | None", str, dict[str, Any]]
"""One run of a fork: the join's field it fills, its item index (None: a single run), the graph's name, its start."""
Outcome = dict[str, Any]
"""How a run ended: `output`, `error` (None, or `{"error": TYPE, "message": TEXT}`), and its `steps` when known."""

SUBGRAPH = "#"
"""`KEY#Name`: the graph `Name` that KEY's graph runs as a sub-graph."""
_POLL_SECONDS = 0.02
"""How often a run waiting on its sub-graph workflows looks at them (DBOS's default, a second, made a map crawl)."""
_FLUSH_SECONDS = 0.02
"""How often the outcomes of runs that ended here are written (one transaction each time)."""


def run_fork(
    run_id: str,
    key: str,
    loaded: _Loaded,
    out: dict[str, Any],
    step: int,
    max_steps: int | None,
    source: str,
    loop: asyncio.AbstractEventLoop,
    graph_for: Callable[[str], _Loaded],
    workflow: Callable[..., Any],
) -> dict[str, Any]:
    """Run the fork a node step recorded (`out["fork"]`); return what the join step records (as a node step's)."""
    fork = out["fork"]
    branches: list[Branch] = [
        (name, index, field.get("run") or field["map"], start)
        for name, field in fork["fields"].items()
        if "value" not in field
        for index, start in ([(None, field["start"])] if "run" in field else enumerate(field["starts"]))
    ]
    total = len(branches)
    percent = fork["tolerate_percent"]
    allowed = int(total * percent / 100) if percent is not None else fork["tolerate"]
    limit = min(fork["limit"] or total, total) or 1
    if _current_engine().load_spec is not None:
        outcomes, run_ids = _on_workers(
            run_id, key, branches, step, limit, allowed, max_steps, source, graph_for, workflow
        )
        return _join_step(loaded, out, branches, outcomes, run_ids)
    outcomes = _here(run_id, key, branches, step, limit, allowed, source, loop, graph_for)
    return _join_step(loaded, out, branches, outcomes, [])


def _failed(branch: Branch, error: dict[str, str], source: str) -> PortableWorkflowError:
    _, index, name, _ = branch
    item = f" (item {index})" if index is not None else ""
    message = f"ForkFailed: sub-graph `{name}`{item} failed: {error['error']}: {error['message']}"
    return PortableWorkflowError(message, "ForkFailed", data={"node": source})


def _here(
    run_id: str,
    key: str,
    branches: list[Branch],
    step: int,
    limit: int,
    allowed: int,
    source: str,
    loop: asyncio.AbstractEventLoop,
    graph_for: Callable[[str], _Loaded],
) -> list[Outcome]:
    """The runs as tasks on the run's loop; each outcome written as it ends, those written before not run again."""
    store = _Store(_current_engine().url)
    done = store.items(run_id, step)
    failures = [p for p in sorted(done) if done[p]["error"] is not None]
    if len(failures) > allowed:
        raise _failed(branches[failures[0]], done[failures[0]]["error"], source)
    unwritten: dict[int, Outcome] = {}

    async def one(position: int, gate: asyncio.Semaphore) -> None:
        _, _, name, start = branches[position]
        sub = graph_for(key + SUBGRAPH + name)
        history: list[HistoryStep[Any, Any]] = []
        async with gate:
            try:
                async with sub.graph.iter(sub.node(start), history=history, deps=sub.deps, infer_name=False) as run:
                    async for _ in run:
                        pass
                assert run.result is not None
                outcome: Outcome = {"output": pydantic_core.to_jsonable_python(run.result.output), "error": None}
            except Exception as e:
                outcome = {"output": None, "error": {"error": type(e).__name__, "message": str(e)}}
        outcome["steps"] = json.loads(sub.graph.dump_history(history))
        done[position] = unwritten[position] = outcome
        if outcome["error"] is not None:
            failures.append(position)
            if len(failures) > allowed:
                raise _failed(branches[position], outcome["error"], source)

    async def flush() -> None:
        if unwritten:
            batch = dict(unwritten)
            unwritten.clear()
            await asyncio.to_thread(store.put_items, run_id, step, batch)

    async def run_all() -> None:
        gate = asyncio.Semaphore(limit)
        tasks = [asyncio.ensure_future(one(p, gate)) for p in range(len(branches)) if p not in done]
        try:
            while not all(task.done() for task in tasks):
                await asyncio.wait(tasks, timeout=_FLUSH_SECONDS, return_when=asyncio.FIRST_EXCEPTION)
                await flush()
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]  # checked just above
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await flush()

    loop.run_until_complete(run_all())
    return [done[p] for p in range(len(branches))]


def _on_workers(
    run_id: str,
    key: str,
    branches: list[Branch],
    step: int,
    limit: int,
    allowed: int,
    max_steps: int | None,
    source: str,
    graph_for: Callable[[str], _Loaded],
    workflow: Callable[..., Any],
) -> tuple[list[Outcome], list[str]]:
    """The runs as workflows on `graphc-items`, at most `limit` at once; their outcomes, and their workflow ids."""
    handles: list[Any] = []

    def launch() -> None:
        _, _, name, start = branches[len(handles)]
        sub_key = key + SUBGRAPH + name
        sub = graph_for(sub_key)
        state = sub.graph.default_state() if sub.graph.default_state is not None else None
        with SetWorkflowID(f"{run_id}:{step}:{len(handles)}"):
            handles.append(
                DBOS.enqueue_workflow(ITEMS_QUEUE, workflow, sub_key, start, sub.dump_state(state), max_steps)
            )

    for _ in range(limit):
        launch()
    outcomes: list[Outcome] = [{} for _ in branches]
    going = {handle.workflow_id: position for position, handle in enumerate(handles)}
    failures = 0
    while going:
        # whichever ends first (DBOS records which: a replay takes the same order); the next starts in its place
        ended = DBOS.wait_first([handles[p] for p in going.values()], polling_interval_sec=_POLL_SECONDS)
        position = going.pop(ended.workflow_id)
        try:
            outcomes[position] = {"output": ended.get_result(polling_interval_sec=_POLL_SECONDS), "error": None}
        except Exception as e:
            data = getattr(e, "data", None)  # DBOS keeps `data` of a child's error, not its `name`
            data = data if isinstance(data, dict) else {}
            error = {"error": str(data.get("error", type(e).__name__)), "message": str(data.get("message", e))}
            outcomes[position] = {"output": None, "error": error}
            failures += 1
            if failures > allowed:
                for other in going:
                    DBOS.cancel_workflow(other)
                raise _failed(branches[position], error, source) from None
        if len(handles) < len(branches):
            launch()
            going[handles[-1].workflow_id] = len(handles) - 1
    return outcomes, [h.workflow_id for h in handles]


@DBOS.step(name=_FORK_STEP)
def _join_step(
    loaded: _Loaded, out: dict[str, Any], branches: list[Branch], outcomes: list[Outcome], run_ids: list[str]
) -> dict[str, Any]:
    """Record the fork in the history (each run's steps, output or error) and the node it joins at."""
    fork = out["fork"]
    client = _current_engine().client if run_ids else None
    records = []
    for position, ((argument, index, name, _), outcome) in enumerate(zip(branches, outcomes, strict=True)):
        steps = outcome.get("steps")
        if steps is None and client is not None:  # a workflow's: its recorded steps
            steps = [
                s
                for recorded in client.list_workflow_steps(run_ids[position])
                if recorded["function_name"] in (_NODE_STEP, _FORK_STEP) and isinstance(recorded["output"], dict)
                for s in recorded["output"]["steps"]
            ]
        error = outcome["error"]
        shown = f"{error['error']}: {error['message']}" if error is not None else None
        records.append(BranchRecord(name, argument, index, steps or [], outcome["output"], shown))
    given = iter(zip(records, outcomes, strict=True))

    def value(field: dict[str, Any]) -> Any:
        if "value" in field:
            return field["value"]
        taken = [next(given) for _ in ([None] if "run" in field else field["starts"])]
        values = [  # a tolerated failure as the join receives it: `runtime.fanout.Failure`, as JSON
            {"graph": r.graph, "index": r.index, **o["error"]} if o["error"] is not None else o["output"]
            for r, o in taken
        ]
        return values[0] if "run" in field else values

    fields = {name: value(field) for name, field in fork["fields"].items()}
    history: list[HistoryStep[Any, Any]] = [ForkStep(fork["join"], records)]
    if fork["join"] == "End":
        history.append(EndStep(result=End(fields["data"])))
        return {"steps": json.loads(loaded.graph.dump_history(history)), "state": out["state"], "next": None}
    join = loaded.dump_node(loaded.node({"node": fork["join"], "data": fields}))
    return {"steps": json.loads(loaded.graph.dump_history(history)), "state": out["state"], "next": join}
