"""Fan-out and join: a node's transition that runs sub-graphs, concurrently, before the next node.

A spec writes `-> Combine([Fetch(url=u) for u in urls]) limit 4 tolerate 2`: `Fetch` is
another spec's graph (`use Fetch from "fetch.graph"`). The generated node returns a `Fork`
naming the join (`Combine`, or `End`) and its arguments, some of them `Run` (one sub-graph
run) or `Map` (one run per item) markers. The graph runs every marked run as an asyncio
task (at most `limit` at once), puts each output where its marker stood, records one
`ForkStep` in the history, and the join node is the run's next node.

Each sub-graph run has its own state (its graph's default) and history; it cannot touch the
caller's state, so the caller's final state does not depend on how the runs interleave. A
failure fails the fork and cancels the runs still going, unless `tolerate` allows it: a
tolerated failure stands in the results as a `Failure`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from time import perf_counter
from typing import TYPE_CHECKING, Any, Generic, Literal

from typing_extensions import TypeVar

from .exceptions import GraphRuntimeError
from .nodes import BaseNode, End

if TYPE_CHECKING:
    from .graph import Graph

__all__ = (
    "BranchRecord",
    "Failure",
    "Fork",
    "ForkFailed",
    "ForkStep",
    "Map",
    "Run",
    "Runs",
    "SubGraph",
    "gather_limited",
    "join_id",
    "load_subgraph_module",
    "provide_subgraph",
    "run_fork",
    "run_subgraphs",
    "subgraph",
)

JoinT = TypeVar("JoinT", covariant=True, default=Any)


@dataclass(frozen=True)
class SubGraph:
    """Another spec's compiled graph, as a spec's `use NAME from "PATH"` names it."""

    name: str
    """The name the calling spec gives it."""
    graph: Graph[Any, Any, Any]
    start: Callable[..., BaseNode[Any, Any, Any]]
    """Its start node's class: the arguments of a call are this node's fields."""

    def run(self, start: BaseNode[Any, Any, Any]) -> Run:
        """A fork's argument that runs this graph once from `start`."""
        return Run(self, start)

    def map(self, starts: list[BaseNode[Any, Any, Any]]) -> Map:
        """A fork's argument that runs this graph once per start node."""
        return Map(self, starts)

    def deps_for(self, caller_deps: Any) -> Any:
        """The deps a run gets: the caller's when the types agree, else the sub-graph's own defaults (or None)."""
        deps_type = self.graph.deps_type
        if deps_type is type(None):
            return None
        if isinstance(caller_deps, deps_type):
            return caller_deps
        try:
            return deps_type()
        except TypeError as e:
            raise GraphRuntimeError(
                f"sub-graph `{self.name}` needs deps of type `{deps_type.__name__}`, which cannot be made "
                f"without arguments ({e}); give the caller the same deps type"
            ) from e


class Runs:
    """Annotation on a forking edge, naming the sub-graphs it runs: `Annotated[Fork[Join], Runs(Fetch)]`."""

    __slots__ = ("graphs",)

    def __init__(self, *graphs: SubGraph) -> None:
        self.graphs = graphs

    def __repr__(self) -> str:
        return f"Runs({', '.join(g.name for g in self.graphs)})"


@dataclass
class Run:
    """One run of a sub-graph, from `start`; its output takes the marker's place."""

    graph: SubGraph
    start: BaseNode[Any, Any, Any]


@dataclass
class Map:
    """One run of a sub-graph per start node; the outputs, in the starts' order, take the marker's place."""

    graph: SubGraph
    starts: list[BaseNode[Any, Any, Any]]


@dataclass(frozen=True)
class Failure:
    """A tolerated failure of one run of a fork, standing where its output would be."""

    graph: str
    """The sub-graph's name in the calling spec."""
    index: int | None
    """The item's position in its map (None for a single run)."""
    error: str
    """The exception's class name."""
    message: str


@dataclass
class Fork(Generic[JoinT]):
    """What a node returns to run sub-graphs before `join`: its arguments hold `Run` and `Map` markers."""

    join: Callable[..., Any]
    """The join node's class, or `End`."""
    args: list[Any] = field(default_factory=list)
    keywords: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    """How many runs go at once (None: all)."""
    tolerate: int = 0
    """How many runs may fail (their `Failure` given to the join) before the fork fails."""
    tolerate_percent: float | None = None
    """Instead of `tolerate`: the share of the runs, in percent, that may fail."""
    origin: tuple[str, int] | None = field(default=None, init=False, repr=False, compare=False)
    """The file and line that made it (a node's transition): where a failure of its runs is reported."""

    def __post_init__(self) -> None:
        frame = sys._getframe(2)  # past the dataclass's `__init__`: the node's `run`
        self.origin = (frame.f_code.co_filename, frame.f_lineno)

    def named_arguments(self) -> dict[str, Any]:
        """The join's arguments by field name (`data` for `End`): positional ones named by the fields' order."""
        fields = [] if self.join is End else dataclasses.fields(self.join)  # type: ignore[arg-type]
        names = ["data"] if self.join is End else [f.name for f in fields if f.init]
        return {**dict(zip(names, self.args, strict=False)), **self.keywords}

    def branches(self) -> list[tuple[str, int | None, SubGraph, BaseNode[Any, Any, Any]]]:
        """Every run, in order: (the join's field it fills, item index, sub-graph, start node)."""
        out: list[tuple[str, int | None, SubGraph, BaseNode[Any, Any, Any]]] = []
        for argument, value in self.named_arguments().items():
            if isinstance(value, Run):
                out.append((argument, None, value.graph, value.start))
            elif isinstance(value, Map):
                out += [(argument, i, value.graph, start) for i, start in enumerate(value.starts)]
        return out

    def allowed_failures(self, runs: int) -> int:
        """How many of `runs` runs may fail."""
        if self.tolerate_percent is not None:
            return int(runs * self.tolerate_percent / 100)
        return self.tolerate

    def joined(self, outputs: list[Any]) -> Any:
        """The join node (or `End`) built from the runs' outputs (or `Failure`s), in `branches` order."""
        results = iter(outputs)

        def filled(value: Any) -> Any:
            if isinstance(value, Run):
                return next(results)
            if isinstance(value, Map):
                return [next(results) for _ in value.starts]
            return value

        return self.join(**{name: filled(value) for name, value in self.named_arguments().items()})


class ForkFailed(Exception):
    """A run of a fork failed (more failures than it tolerates); the others were cancelled."""

    def __init__(self, graph: str, index: int | None, error: BaseException) -> None:
        self.graph, self.index, self.error = graph, index, error
        item = f" (item {index})" if index is not None else ""
        notes = "".join(f" ({n})" for n in getattr(error, "__notes__", []))
        super().__init__(f"sub-graph `{graph}`{item} failed: {type(error).__name__}: {error}{notes}")


@dataclass(slots=True)
class BranchRecord:
    """One run of a fork in the history: which, its steps (as its graph dumps them), its output or error."""

    graph: str
    argument: str
    """The join's field it fills (`data` for `End`)."""
    index: int | None = None
    steps: list[Any] = field(default_factory=list)
    output: Any = None
    error: str | None = None


def _now_utc() -> datetime:
    return datetime.now(tz=timezone.utc)


@dataclass(slots=True)
class ForkStep:
    """History step: the sub-graph runs between a node and its join."""

    join: str
    """The join node's id, or `End`."""
    branches: list[BranchRecord]
    start_ts: datetime = field(default_factory=_now_utc)
    duration: float | None = None
    kind: Literal["fork"] = "fork"


async def run_fork(fork: Fork[Any], caller_deps: Any) -> tuple[Any, ForkStep]:
    """Run every sub-graph run of `fork` and return the join node (or `End`) and the history step.

    Raises:
        ForkFailed: a run failed beyond what the fork tolerates; the runs still going are cancelled.
    """
    branches = fork.branches()
    records = [BranchRecord(graph=sub.name, argument=arg, index=index) for arg, index, sub, _ in branches]
    started, start_ts = perf_counter(), _now_utc()

    async def run_branch(position: int) -> Any:
        _, index, sub, start = branches[position]
        record, history = records[position], []  # type: ignore[var-annotated]
        try:
            async with sub.graph.iter(start, history=history, deps=sub.deps_for(caller_deps), infer_name=False) as run:
                async for _ in run:
                    pass
            assert run.result is not None
            record.output = run.result.output
            return record.output
        except Exception as error:
            record.error = f"{type(error).__name__}: {error}"
            raise ForkFailed(sub.name, index, error) from error
        finally:
            record.steps = json.loads(sub.graph.dump_history(history))

    calls = [functools.partial(run_branch, position) for position in range(len(branches))]
    outcomes = await gather_limited(calls, fork.limit, fork.allowed_failures(len(branches)))
    outputs = [
        Failure(o.graph, o.index, type(o.error).__name__, str(o.error)) if isinstance(o, ForkFailed) else o
        for o in outcomes
    ]
    step = ForkStep(join=join_id(fork.join), branches=records, start_ts=start_ts, duration=perf_counter() - started)
    return fork.joined(outputs), step


# --- copied into modules compiled for pydantic_graph, which run a fork inside the node that forks ---------


async def gather_limited(calls: list[Any], limit: int | None, allowed: int) -> list[Any]:
    """Await each of `calls` (coroutine functions), at most `limit` at once; their results, in order.

    A call that raises stands as its exception, up to `allowed` of them; one more is raised at
    once and the calls still going are cancelled.
    """
    import asyncio

    gate = asyncio.Semaphore(limit) if limit else None

    async def one(call: Any) -> Any:
        if gate is None:
            return await call()
        async with gate:
            return await call()

    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    place = {task: position for position, task in enumerate(tasks)}
    results: list[Any] = [None] * len(tasks)
    failures = 0
    try:
        going = set(tasks)
        while going:
            ended, going = await asyncio.wait(going, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(ended, key=place.__getitem__):
                error = task.exception()
                results[place[task]] = error if error is not None else task.result()
                failures += error is not None
                if error is not None and failures > allowed:
                    raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def run_subgraphs(
    runs: list[tuple[Any, list[Any]]],
    deps: Any,
    *,
    limit: int | None = None,
    tolerate: int = 0,
    tolerate_percent: float | None = None,
) -> list[list[Any]]:
    """Run used graphs (each a compiled module and its start nodes) at once; their outputs, per argument.

    What a node of a module compiled for pydantic_graph does where the runtime would return a
    `Fork`: its runs go as in the runtime (`limit`, `tolerate`, cancellation), each with a fresh
    state of its graph, and the caller's deps when they are of its graph's deps type.
    """
    import inspect

    places = [(argument, index) for argument, (_, starts) in enumerate(runs) for index in range(len(starts))]

    def call(module: Any, start: Any, index: int | None) -> Any:
        async def run() -> Any:
            state_type, deps_type = module.SUBGRAPH_STATE, module.SUBGRAPH_DEPS
            state = state_type() if state_type is not None else None
            own = deps if deps_type is not None and isinstance(deps, deps_type) else None
            own = own if own is not None or deps_type is None else deps_type()
            name = module.graph.name or module.__name__
            try:
                if "inputs" in inspect.signature(module.graph.run).parameters:  # pydantic-graph 2.x
                    return await module.graph.run(inputs=start, state=state, deps=own)
                return (await module.graph.run(start, state=state, deps=own)).output
            except Exception as error:
                raise ForkFailed(name, index, error) from error

        return run

    calls = [call(runs[a][0], runs[a][1][i], i if len(runs[a][1]) > 1 else None) for a, i in places]
    allowed = int(len(calls) * tolerate_percent / 100) if tolerate_percent is not None else tolerate
    outcomes = await gather_limited(calls, limit, allowed)
    out: list[list[Any]] = [[] for _ in runs]
    for (argument, _), outcome in zip(places, outcomes, strict=True):
        if isinstance(outcome, ForkFailed):
            outcome = Failure(outcome.graph, outcome.index, type(outcome.error).__name__, str(outcome.error))
        out[argument].append(outcome)
    return out


def load_subgraph_module(name: str, caller_file: str, module_file: str, digest: str) -> Any:
    """The module `graphc compile` wrote beside the caller for the graph it uses as `name`, checked by digest."""
    import hashlib
    import importlib.util
    import os
    import sys

    path = os.path.join(os.path.dirname(os.path.abspath(caller_file)), module_file)
    try:
        with open(path, "rb") as f:
            actual = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        raise RuntimeError(
            f"sub-graph `{name}`: cannot read {path} ({e.strerror}); compile the calling spec again"
        ) from None
    if actual != digest:
        raise RuntimeError(
            f"sub-graph `{name}`: {path} is not the module this one was compiled with; compile the calling spec again"
        )
    module_name = f"_graphc_used_{digest[:16]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def join_id(join: Callable[..., Any]) -> str:
    """The id of a fork's join: its node's, or `End`."""
    get_id = getattr(join, "get_id", None)
    return get_id() if get_id is not None else "End"


# --- finding a used spec's module ------------------------------------------------------------

_provided: dict[str, SubGraph] = {}
_providing = threading.Lock()


def provide_subgraph(digest: str, sub: SubGraph) -> None:
    """Make a compiled sub-graph available to modules that use it (the loader calls this before importing them)."""
    with _providing:
        _provided[digest] = sub


def subgraph(name: str, caller_file: str, module_file: str, digest: str) -> SubGraph:
    """The graph a compiled module uses as `name`: provided by the loader, else the module `graphc compile` wrote.

    `digest` is the SHA-256 of the used module's source, so a stale or altered file is refused.
    """
    with _providing:
        found = _provided.get(digest)
    if found is not None:
        return SubGraph(name, found.graph, found.start)
    try:
        module = load_subgraph_module(name, caller_file, module_file, digest)
    except RuntimeError as e:
        raise GraphRuntimeError(str(e)) from None
    sub = SubGraph(name, module.graph, module.start)
    provide_subgraph(digest, sub)
    return sub
