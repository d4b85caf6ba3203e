"""The run as a DBOS workflow: each node one recorded step; parking at waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass
from time import perf_counter
from typing import Any, NoReturn

import pydantic
import pydantic_core
from dbos import (
    DBOS,
    PortableWorkflowError,
)

from .. import clock, observe
from ..fanout import Fork, Map, Run, SubGraph, join_id
from ..graph import Graph, GraphRun
from ..locations import note_node_error
from ..nodes import BaseNode, End, GraphRunContext, optional_waits, supply_waits, unset_waits, waited_types
from ..state import HistoryStep, NodeStep
from ..timers import due_time
from ._common import (
    _NODE_STEP,
    _SPEC_KEY,
    _WAIT_EVENT,
    _WORKFLOW,
    DEFAULT_MAX_STEPS,
    WAITING_QUEUE,
    DurableError,
)
from ._engine import _current_engine, _signals
from ._forks import SUBGRAPH, run_fork
from ._store import _Store
from ._timers import fire


@dataclass
class _Loaded:
    """A graph this process can run: its codec for JSON and the deps its runs use here."""

    graph: Graph[Any, Any, Any]
    deps: Any

    def node(self, data: dict[str, Any]) -> BaseNode[Any, Any, Any]:
        cls = self.graph.node_types.get(data["node"])
        if cls is None:
            raise ValueError(
                f"the run is at node `{data['node']}`, which graph `{self.graph.name}` does not have: "
                "the spec it runs is not the one it was started with"
            )
        node: BaseNode[Any, Any, Any] = _adapter(cls).validate_python(data["data"])
        return node

    def dump_node(self, node: BaseNode[Any, Any, Any]) -> dict[str, Any]:
        unset = set(unset_waits(node))
        data = _adapter(type(node)).dump_python(node, mode="json", exclude=unset or None)
        return {"node": node.get_id(), "data": data}

    def state(self, data: Any) -> Any:
        return _adapter(self.graph.state_type).validate_python(data)

    def dump_state(self, state: Any) -> Any:
        return _adapter(self.graph.state_type).dump_python(state, mode="json")


_adapters: dict[Any, pydantic.TypeAdapter[Any]] = {}


_ADAPTERS_KEPT = 512
"""Bounded: a worker that compiles specs for weeks keeps only the latest classes' adapters."""


def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    """One validator/serialiser per node or state class: building one costs a millisecond, a step far less."""
    adapter = _adapters.get(tp)
    if adapter is None:
        if len(_adapters) >= _ADAPTERS_KEPT:
            del _adapters[next(iter(_adapters))]
        adapter = _adapters[tp] = pydantic.TypeAdapter(tp)
    return adapter


def warm_up(graph: Graph[Any, Any, Any]) -> None:
    """Build the graph's pydantic codecs (its nodes, state and history) on a thread of their own.

    A process that resumes a run builds them before its first step: 60 ms of a fresh
    `graphc runs resume`, which otherwise spends that time waiting for DBOS to launch and
    its queue to hand it the run. Whatever is not built by then, the run builds itself.
    """

    def build() -> None:
        for tp in (*graph.node_types.values(), graph.state_type):
            _adapter(tp)
        graph.history_type_adapter  # noqa: B018  # a cached property: reading it builds it

    threading.Thread(target=build, name="graphc-warm-up", daemon=True).start()


_loaded: dict[str, _Loaded] = {}
"""By graph key: a local graph's version, or `spec:DIGEST` for a stored spec."""


class _Parked(BaseException):
    """Leaves a run's workflow without an outcome (DBOS records none): the run waits on `WAITING_QUEUE`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind
        """`waiting` (for an answer), `sleeping`, or `cancelled` (at a park a cancel took)."""


_loading = threading.Lock()


def _graph_for(key: str) -> _Loaded:
    loaded = _loaded.get(key)
    if loaded is not None:
        return loaded
    if SUBGRAPH in key:  # `KEY#Name`: the graph `Name` that KEY's graph runs as a sub-graph
        parent_key, _, name = key.rpartition(SUBGRAPH)
        parent = _graph_for(parent_key)
        sub = subgraphs_of(parent.graph).get(name)
        if sub is None:
            raise PortableWorkflowError(f"graph {parent_key} runs no sub-graph `{name}`", "GraphVersionError")
        loaded = _loaded[key] = _Loaded(sub.graph, sub.deps_for(parent.deps))
        return loaded
    with _loading:  # the runs of one new spec arrive together: compile it once
        loaded = _loaded.get(key)
        return loaded if loaded is not None else _load_stored(key)


_BATCH_NODES = 1000
"""The most nodes one step records (a node, then the pure nodes after it)."""
_BATCH_SECONDS = 0.5
"""A step that has run this long records what it ran, even in the middle of pure nodes."""


def subgraphs_of(graph: Graph[Any, Any, Any]) -> dict[str, SubGraph]:
    """The graphs a graph's forks run, by the names its spec gives them."""
    return {sub.name: sub for node_def in graph.node_defs.values() for subs in node_def.forks.values() for sub in subs}


def _load_stored(key: str) -> _Loaded:
    engine = _current_engine()
    if not key.startswith(_SPEC_KEY) or engine.load_spec is None:
        raise PortableWorkflowError(f"this process cannot run graph {key}", "GraphVersionError", data={"key": key})
    digest = key.removeprefix(_SPEC_KEY)
    try:
        stored = _Store(engine.url).get(digest)
    except DurableError as e:
        raise PortableWorkflowError(str(e), "SpecAltered", data={"key": key}) from None
    if stored is None:
        raise PortableWorkflowError(f"the spec {digest} is not in the database", "SpecMissing", data={"key": key})
    name, source, files = stored
    try:
        graph, deps = engine.load_spec(name, source, files)
    except Exception as e:  # the stored spec does not compile here (an import outside --allow-import, say)
        message = f"the spec does not compile here: {e}"
        if engine.report is not None:
            engine.report(f"run {DBOS.workflow_id}: {message}")
        raise PortableWorkflowError(message, type(e).__name__, data={"key": key}) from None
    loaded = _loaded[key] = _Loaded(graph, deps)
    return loaded


@DBOS.workflow(name=_WORKFLOW)
def _run_workflow(key: str, start: dict[str, Any], state: Any, max_steps: int | None = DEFAULT_MAX_STEPS) -> Any:
    """A whole run; replayed from the recorded steps when resumed. It fails after `max_steps` nodes (None: never)."""
    run_id = DBOS.workflow_id
    assert run_id is not None
    outcome: tuple[str, int] = ("finished", 0)
    try:
        loaded = _graph_for(key)
        spans = _traced(run_id, loaded)
        node, current = loaded.node(start), loaded.state(state)
        waits = 0  # the parks (waits and sleeps) passed so far: a replay passes the same ones again
        steps = 0
        loop = asyncio.new_event_loop()  # one loop for the run's nodes, so deps bound to a loop keep working
        try:
            while True:
                if max_steps and steps >= max_steps:
                    raise PortableWorkflowError(
                        f"stopped after {max_steps:,} steps without reaching `End` (next node: `{node.get_id()}`); "
                        "raise the limit with --max-steps N, or 0 for none",
                        "StepLimit",
                        data={"node": node.get_id()},
                    )
                if node.sleep_policy is not None:
                    waits += 1
                    _sleep(run_id, loaded, node, current, waits)
                if node.waits_for and unset_waits(node):
                    waits += 1
                    answer = _input_for(run_id, node, waits)
                    if answer is not None:  # None: the deadline came first, and the node takes its edge
                        supply_waits(node, answer)
                room = max_steps - steps if max_steps else None
                out = _node_step(loaded, node, current, loop, room)
                steps += sum(step["kind"] == "node" for step in out["steps"])
                current = loaded.state(out["state"])
                if "fork" in out:
                    source = node.get_id()
                    out = run_fork(run_id, key, loaded, out, steps, max_steps, source, loop, _graph_for, _run_workflow)
                if out["next"] is None:
                    return out["steps"][-1]["result"]["data"]
                node = loaded.node(out["next"])
        finally:
            loop.close()
            spans.close()
    except _Parked as parked:
        outcome = (parked.kind, waits)
        raise
    finally:
        if (signal := _signals.get(run_id)) is not None:
            signal.put(outcome)


def _traced(run_id: str, loaded: _Loaded) -> contextlib.ExitStack:
    """The observers' span around this process's part of a run, in the trace stored with the run when it started."""
    spans = contextlib.ExitStack()
    if observe.watching():
        engine = _current_engine()
        carrier = engine.attributes(run_id).get("graphc_trace")
        for observer in observe.observers:
            spans.enter_context(observer.run(loaded.graph, carrier if isinstance(carrier, dict) else None))
        parked = engine.client.get_event(run_id, _WAIT_EVENT, timeout_seconds=0)  # a read: nothing recorded
        if isinstance(parked, dict):  # this part takes the run up from the park it left at
            taken = _Store(engine.url).answer(run_id, parked["ordinal"])
            by = taken[0] if taken is not None else "none"  # answer, deadline, wake or cancel
            observe.tell("resume", {"graphc.node": parked["node"], "graphc.wait": parked["ordinal"], "graphc.by": by})
    return spans


def _input_for(run_id: str, node: BaseNode[Any, Any, Any], ordinal: int) -> dict[str, Any] | None:
    """The answer to park number `ordinal`, a wait: read from `graphc_answers` if given, else the run parks.

    None when the wait's deadline took it (nobody answered in time). The answer row never
    changes once written, so a replay reads the same answer; it is read outside the
    workflow's record (no step is recorded).
    """
    engine = _current_engine()
    store = _Store(engine.url)
    event: dict[str, Any] = {"node": node.get_id(), "schema": waits_schema(type(node)), "ordinal": ordinal}
    deadline = node.answer_deadline
    answer = store.answer(run_id, ordinal)  # a replay finds it taken: no timer to look at
    if deadline is not None and answer is None:  # written the first time the run gets here, then read back
        now = clock.current().now().timestamp()
        queued = bool(engine.attributes(run_id).get("graphc_queued"))
        event["deadline"] = due = store.timer(run_id, ordinal, "deadline", now + deadline.seconds, queued=queued)
        if due <= now:
            fire(store, engine.client, run_id, ordinal, "deadline", engine.home_queue(run_id))
    DBOS.set_event(_WAIT_EVENT, event)  # every time, replays too: DBOS checks the same calls come in order
    answer = answer or store.answer(run_id, ordinal)
    if answer is None:
        _park(run_id, node, ordinal, "waiting")
    kind, value = answer
    if kind == "cancel" or (kind == "answer" and value is None):  # the canceller ends the workflow
        raise _Parked("cancelled")
    DBOS.set_event(_WAIT_EVENT, None)
    if deadline is not None:
        store.timer_done(run_id, ordinal)
    return value if kind == "answer" else None


def _sleep(run_id: str, loaded: _Loaded, node: BaseNode[Any, Any, Any], state: Any, ordinal: int) -> None:
    """Park number `ordinal`, a sleep: return once it has ended, else park until a timer wakes the run."""
    engine = _current_engine()
    store = _Store(engine.url)
    event: dict[str, Any] = {"node": node.get_id(), "ordinal": ordinal, "sleeps_until": None}
    answer = store.answer(run_id, ordinal)  # a replay finds it woken: the time is not computed again
    if answer is None:
        now = clock.current().now()
        try:
            wakes = due_time(node, GraphRunContext(state, loaded.deps), now).timestamp()
        except Exception as e:  # `sleep until EXPR` went wrong: the run fails, saying where
            note_node_error(e, node)
            notes = "".join(f" ({n})" for n in getattr(e, "__notes__", []))
            message = f"{type(e).__name__}: {e}{notes}"
            raise PortableWorkflowError(message, type(e).__name__, data={"node": node.get_id()}) from None
        queued = bool(engine.attributes(run_id).get("graphc_queued"))
        event["sleeps_until"] = due = store.timer(run_id, ordinal, "sleep", wakes, queued=queued)
        if due <= now.timestamp():
            store.claim(run_id, ordinal, "wake")
            store.timer_done(run_id, ordinal)
    DBOS.set_event(_WAIT_EVENT, event)  # every time, replays too: DBOS checks the same calls come in order
    answer = answer or store.answer(run_id, ordinal)
    if answer is None:
        _park(run_id, node, ordinal, "sleeping")
    if answer[0] != "wake":
        raise _Parked("cancelled")
    DBOS.set_event(_WAIT_EVENT, None)


def _park(run_id: str, node: BaseNode[Any, Any, Any], ordinal: int, kind: str) -> NoReturn:
    """Leave the workflow parked on `WAITING_QUEUE`; back on its own queue if the park was taken meanwhile."""
    observe.tell("park", {"graphc.node": node.get_id(), "graphc.wait": ordinal, "graphc.park": kind})
    engine = _current_engine()
    engine.client.resume_workflow(run_id, queue_name=WAITING_QUEUE)
    answer = _Store(engine.url).answer(run_id, ordinal)
    if answer is not None and answer[0] != "cancel":  # answered (or woken) while parking: back to work
        engine.client.resume_workflow(run_id, queue_name=engine.home_queue(run_id))
    raise _Parked(kind)


@DBOS.step(name=_NODE_STEP)
def _node_step(
    loaded: _Loaded,
    node: BaseNode[Any, Any, Any],
    state: Any,
    loop: asyncio.AbstractEventLoop,
    room: int | None = None,
) -> dict[str, Any]:
    """Run a node, then the pure nodes after it; DBOS records JSON: their history, the state after, the next node.

    A pure node (`BaseNode.pure`, proved by the compiler) only computes from what the step
    records, so it runs in the step of the node before it: run again after a crash, the step
    does the same. At most `room` nodes (the run's step limit), `_BATCH_NODES` and
    `_BATCH_SECONDS` a step, so a long pure loop is still recorded as it goes. A node that
    forks records the fork instead of a next node (`fork`): its runs go after this step.
    """
    history: list[HistoryStep[Any, Any]] = []
    try:
        run = GraphRun(loaded.graph, node, history=history, state=state, deps=loaded.deps)
        next_node = loop.run_until_complete(run._advance(node, defer_forks=True, timers=False))
        ran, started = 1, perf_counter()
        limit = min(_BATCH_NODES, room) if room is not None else _BATCH_NODES
        while (
            ran < limit
            and isinstance(next_node, BaseNode)
            and type(next_node).pure
            and perf_counter() - started < _BATCH_SECONDS
        ):
            try:
                after = loop.run_until_complete(run._advance(next_node, defer_forks=True, timers=False))
            except Exception:  # recorded up to the node before; the next step runs this one alone, and fails
                state = history[-1].state if history and isinstance(history[-1], NodeStep) else state
                break
            node, next_node, ran = next_node, after, ran + 1
    except Exception as e:
        notes = "".join(f" ({n})" for n in getattr(e, "__notes__", []))
        message = f"{type(e).__name__}: {e}{notes}"
        data: dict[str, Any] = {"node": node.get_id(), "error": type(e).__name__, "message": str(e)}  # a Failure's
        raise PortableWorkflowError(message, type(e).__name__, data=data) from None
    out = {"steps": json.loads(loaded.graph.dump_history(history)), "state": loaded.dump_state(state)}
    if isinstance(next_node, Fork):
        return {**out, "next": None, "fork": _fork_record(next_node)}
    return {**out, "next": None if isinstance(next_node, End) else loaded.dump_node(next_node)}


def _fork_record(fork: Fork[Any]) -> dict[str, Any]:
    """A fork as JSON: the join, its fields (plain values, or the runs that fill them) and its limits."""
    fields: dict[str, Any] = {}
    for name, value in fork.named_arguments().items():
        if isinstance(value, Run):
            fields[name] = {"run": value.graph.name, "start": _dump_start(value.start)}
        elif isinstance(value, Map):
            fields[name] = {"map": value.graph.name, "starts": [_dump_start(s) for s in value.starts]}
        else:
            fields[name] = {"value": pydantic_core.to_jsonable_python(value)}
    return {
        "join": join_id(fork.join),
        "fields": fields,
        "limit": fork.limit,
        "tolerate": fork.tolerate,
        "tolerate_percent": fork.tolerate_percent,
    }


def _dump_start(node: BaseNode[Any, Any, Any]) -> dict[str, Any]:
    data = _adapter(type(node)).dump_python(node, mode="json")
    return {"node": node.get_id(), "data": data}


def waits_schema(cls: type[BaseNode[Any, Any, Any]]) -> dict[str, Any]:
    """The JSON Schema of the input a node waits for: one property per field, required unless its type admits None."""
    properties = {name: pydantic.TypeAdapter(tp).json_schema() for name, tp in waited_types(cls).items()}
    optional = optional_waits(cls)
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
