"""`Graph`, `GraphRun` and `GraphRunResult`: running nodes with pydantic_graph 0.0.39 semantics."""

from __future__ import annotations

import asyncio
import inspect
import threading
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, cast

import pydantic
import typing_extensions

from . import clock, mermaid, observe
from .exceptions import GraphRuntimeError, GraphSetupError
from .fanout import Fork, run_fork
from .locations import note_node_error, note_spec_line
from .nodes import BaseNode, DepsT, End, GraphRunContext, NodeDef, RunEndT, unset_waits
from .state import (
    EndStep,
    HistoryStep,
    NodeStep,
    StatePacker,
    StateT,
    deep_copy_state,
    nodes_schema_var,
    state_copier,
    state_packer,
)
from .timers import due_time

__all__ = ("Graph", "GraphRun", "GraphRunResult")

_new = object.__new__


T = TypeVar("T")
_R = TypeVar("_R")


class _Unset:
    pass


_UNSET = _Unset()


@dataclass(init=False)
class Graph(Generic[StateT, DepsT, RunEndT]):
    """A set of nodes whose `run` annotations define the edges between them.

    ```py
    @dataclass
    class Increment(BaseNode[MyState]):
        async def run(self, ctx: GraphRunContext[MyState]) -> Check42:
            ctx.state.number += 1
            return Check42()

    @dataclass
    class Check42(BaseNode[MyState, None, int]):
        async def run(self, ctx: GraphRunContext[MyState]) -> Increment | End[int]:
            return Increment() if ctx.state.number == 42 else End(ctx.state.number)

    never_42_graph = Graph(nodes=(Increment, Check42))
    never_42_graph.run_sync(Increment(), state=MyState(41)).output  # 43
    ```
    """

    name: str | None
    node_defs: dict[str, NodeDef[StateT, DepsT, RunEndT]]
    snapshot_state: Callable[[StateT], StateT]
    start_node: type[BaseNode[StateT, DepsT, RunEndT]] | None = field(repr=False)
    _state_type: type[StateT] | _Unset = field(repr=False)
    _run_end_type: type[RunEndT] | _Unset = field(repr=False)
    _node_classes: dict[type[Any], bool] = field(repr=False)
    """The node classes, each mapped to whether its nodes run at once: no sleep, no waits (read when built)."""

    def __init__(
        self,
        *,
        nodes: Sequence[type[BaseNode[StateT, DepsT, RunEndT]]],
        name: str | None = None,
        state_type: type[StateT] | _Unset = _UNSET,
        run_end_type: type[RunEndT] | _Unset = _UNSET,
        snapshot_state: Callable[[StateT], StateT] = deep_copy_state,
        auto_instrument: bool = True,
        start_node: type[BaseNode[StateT, DepsT, RunEndT]] | None = None,
        deps_type: type[DepsT] | _Unset = _UNSET,
        default_state: Callable[[], StateT] | None = None,
    ) -> None:
        """Create a graph from its node classes.

        Args:
            nodes: The node classes; their ids must be unique.
            name: Name of the graph; if omitted it is inferred from the variable the
                graph is assigned to, on the first call to a graph method.
            state_type: The state type, normally inferred from the nodes' generic parameters.
            run_end_type: The output type, normally inferred from the nodes' generic parameters.
            snapshot_state: Copies the state into each history step (default: a deep copy).
            auto_instrument: Accepted for compatibility with pydantic_graph; this
                runtime records no tracing spans.
            start_node: The node class a run starts from when none is passed; it must
                be constructible without arguments.
            deps_type: The deps type, normally inferred from the nodes' generic parameters.
            default_state: Makes the state of a run that is given none (pydantic_graph
                passes `None`); compiled specs pass their state class.
        """
        del auto_instrument
        self.name = name
        self._state_type = state_type
        self._run_end_type = run_end_type
        self.snapshot_state = snapshot_state
        parent_namespace = _parent_namespace(inspect.currentframe())
        self.node_defs = {}
        for node in nodes:
            node_id = node.get_id()
            if existing := self.node_defs.get(node_id):
                raise GraphSetupError(f"Node ID `{node_id}` is not unique — found on {existing.node} and {node}")
            self.node_defs[node_id] = node.get_node_def(parent_namespace)
        self._validate_edges()
        if start_node is not None and self.node_defs.get(start_node.get_id(), None) is None:
            raise GraphSetupError(f"Start node `{start_node.get_id()}` is not in the graph.")
        self.start_node = start_node
        self._deps_type = deps_type
        self.default_state = default_state
        self._node_classes = {
            node_def.node: node_def.node.sleep_policy is None and not node_def.node.waits_for
            for node_def in self.node_defs.values()
        }

    @property
    def node_types(self) -> dict[str, type[BaseNode[StateT, DepsT, RunEndT]]]:
        """The node classes by id: `graph.node_types["Increment"](foo=1)` makes a start node."""
        return {node_id: node_def.node for node_id, node_def in self.node_defs.items()}

    @property
    def state_type(self) -> type[StateT]:
        """The state type: as given, else from the nodes' generic parameters (`NoneType` when stateless)."""
        return self._get_state_type()

    @property
    def deps_type(self) -> type[DepsT]:
        """The deps type: as given, else from the nodes' generic parameters (`NoneType` when there are none)."""
        if not isinstance(self._deps_type, _Unset):
            return self._deps_type
        for args in self._base_node_args():
            if len(args) >= 2:
                return cast("type[DepsT]", args[1])
        return cast("type[DepsT]", type(None))

    async def run(
        self: Graph[StateT, DepsT, T],
        start_node: BaseNode[StateT, DepsT, T] | None = None,
        *,
        state: StateT = None,  # type: ignore[assignment]  # as pydantic_graph: None when stateless
        deps: DepsT = None,  # type: ignore[assignment]
        infer_name: bool = True,
        span: AbstractContextManager[Any] | None = None,
        max_steps: int | None = None,
        history_limit: int | None = None,
    ) -> GraphRunResult[StateT, T]:
        """Run the graph from a start node until a node returns `End`.

        Args:
            start_node: The first node to run; defaults to the graph's `start_node`.
            state: The initial state of the graph.
            deps: The dependencies of the graph.
            infer_name: Whether to infer the graph name from the calling frame.
            span: A context manager entered around the run (e.g. a tracing span).
            max_steps: Stop with `GraphRuntimeError` after running this many nodes.
            history_limit: Keep only the last N steps of history (0: none); default: all, as pydantic_graph.

        Returns:
            The output, the final state and the history of the run.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        async with self._iter(start_node, None, state, deps, span, max_steps, history_limit) as graph_run:
            await graph_run._run_to_end()
        result = graph_run.result
        assert result is not None, "GraphRun should have a final result"
        return result

    def iter(
        self: Graph[StateT, DepsT, T],
        start_node: BaseNode[StateT, DepsT, T] | None = None,
        *,
        history: list[HistoryStep[StateT, T]] | None = None,
        state: StateT = None,  # type: ignore[assignment]  # as pydantic_graph: None when stateless
        deps: DepsT = None,  # type: ignore[assignment]
        infer_name: bool = True,
        span: AbstractContextManager[Any] | None = None,
        max_steps: int | None = None,
        history_limit: int | None = None,
    ) -> AbstractAsyncContextManager[GraphRun[StateT, DepsT, T]]:
        """Open a run to drive step by step: `async with graph.iter(node) as run:`.

        The `GraphRun` can be async-iterated (yielding each next node, not the start
        node) or driven with `GraphRun.next`.

        Args:
            start_node: The first node to run; defaults to the graph's `start_node`.
            history: History to append to, e.g. when resuming; a new list if omitted.
            state: The initial state of the graph.
            deps: The dependencies of the graph.
            infer_name: Whether to infer the graph name from the calling frame.
            span: A context manager entered around the run (e.g. a tracing span).
            max_steps: Stop with `GraphRuntimeError` after running this many nodes.
            history_limit: Keep only the last N steps of history (0: none); default: all, as pydantic_graph.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        return self._iter(start_node, history, state, deps, span, max_steps, history_limit)

    @asynccontextmanager
    async def _iter(
        self: Graph[StateT, DepsT, T],
        start_node: BaseNode[StateT, DepsT, T] | None,
        history: list[HistoryStep[StateT, T]] | None,
        state: StateT,
        deps: DepsT,
        span: AbstractContextManager[Any] | None,
        max_steps: int | None,
        history_limit: int | None,
    ) -> AsyncIterator[GraphRun[StateT, DepsT, T]]:
        if state is None and self.default_state is not None:
            state = self._fresh_state()
        with ExitStack() as stack:
            if span is not None:
                stack.enter_context(span)
            for observer in observe.watching():
                stack.enter_context(observer.run(self))
            yield GraphRun(
                self,
                start_node if start_node is not None else self._default_start_node(),
                history=history if history is not None else [],
                state=state,
                deps=deps,
                max_steps=max_steps,
                history_limit=history_limit,
            )

    def run_sync(
        self: Graph[StateT, DepsT, T],
        start_node: BaseNode[StateT, DepsT, T] | None = None,
        *,
        state: StateT = None,  # type: ignore[assignment]  # as pydantic_graph: None when stateless
        deps: DepsT = None,  # type: ignore[assignment]
        infer_name: bool = True,
        max_steps: int | None = None,
        history_limit: int | None = None,
    ) -> GraphRunResult[StateT, T]:
        """Run the graph to completion from synchronous code.

        Unlike pydantic_graph, this also works while an event loop is running in
        the calling thread: the run then happens on a fresh loop in a worker thread.

        Args:
            start_node: The first node to run; defaults to the graph's `start_node`.
            state: The initial state of the graph.
            deps: The dependencies of the graph.
            infer_name: Whether to infer the graph name from the calling frame.
            max_steps: Stop with `GraphRuntimeError` after running this many nodes.
            history_limit: Keep only the last N steps of history (0: none); default: all, as pydantic_graph.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        return _run_coroutine_sync(
            lambda: self.run(
                start_node, state=state, deps=deps, infer_name=False, max_steps=max_steps, history_limit=history_limit
            )
        )

    async def next(
        self: Graph[StateT, DepsT, T],
        node: BaseNode[StateT, DepsT, T],
        history: list[HistoryStep[StateT, T]],
        *,
        state: StateT = None,  # type: ignore[assignment]  # as pydantic_graph: None when stateless
        deps: DepsT = None,  # type: ignore[assignment]
        infer_name: bool = True,
    ) -> BaseNode[StateT, DepsT, Any] | End[T]:
        """Run one node, append its steps to `history`, and return what it returned.

        Args:
            node: The node to run.
            history: The history of the run so far; mutated to add the new steps.
            state: The current state of the graph.
            deps: The dependencies of the graph.
            infer_name: Whether to infer the graph name from the calling frame.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        return await GraphRun(self, node, history=history, state=state, deps=deps)._advance(node)

    def dump_history(
        self: Graph[StateT, DepsT, T], history: list[HistoryStep[StateT, T]], *, indent: int | None = None
    ) -> bytes:
        """Dump the history of a run as JSON, in pydantic_graph's format.

        Args:
            history: The history of the graph run.
            indent: The number of spaces to indent the JSON.
        """
        return self.history_type_adapter.dump_json(history, indent=indent)

    def load_history(self, json_bytes: str | bytes | bytearray) -> list[HistoryStep[StateT, RunEndT]]:
        """Load history dumped by `dump_history` (or by pydantic_graph).

        Args:
            json_bytes: The JSON representation of the history.
        """
        return self.history_type_adapter.validate_json(json_bytes)

    @cached_property
    def history_type_adapter(self) -> pydantic.TypeAdapter[list[HistoryStep[StateT, RunEndT]]]:
        """The pydantic adapter that (de)serialises this graph's history."""
        nodes = [node_def.node for node_def in self.node_defs.values()]
        state_t = self._get_state_type()
        end_t = self._get_run_end_type()
        token = nodes_schema_var.set(nodes)
        try:
            step_type: Any = HistoryStep[state_t, end_t]  # type: ignore[misc,valid-type]
            return pydantic.TypeAdapter(list[Annotated[step_type, pydantic.Discriminator("kind")]])
        finally:
            nodes_schema_var.reset(token)

    def mermaid_code(
        self,
        *,
        start_node: Sequence[mermaid.NodeIdent] | mermaid.NodeIdent | None = None,
        title: str | Literal[False] | None = None,
        edge_labels: bool = True,
        notes: bool = True,
        highlighted_nodes: Sequence[mermaid.NodeIdent] | mermaid.NodeIdent | None = None,
        highlight_css: str = mermaid.DEFAULT_HIGHLIGHT_CSS,
        infer_name: bool = True,
        direction: mermaid.StateDiagramDirection | None = None,
    ) -> str:
        """Mermaid state-diagram code for the graph, as pydantic_graph 0.0.39 writes it.

        Args:
            start_node: Nodes drawn with an edge from the start state.
            title: The diagram title; defaults to the graph name, `False` for none.
            edge_labels: Whether to draw edge labels.
            notes: Whether to draw notes from docstrings.
            highlighted_nodes: Nodes to highlight.
            highlight_css: CSS for highlighted nodes.
            infer_name: Whether to infer the graph name from the calling frame.
            direction: The direction of flow.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        if title is None and self.name:
            title = self.name
        return mermaid.generate_code(
            self,
            start_node=start_node,
            highlighted_nodes=highlighted_nodes,
            highlight_css=highlight_css,
            title=title or None,
            edge_labels=edge_labels,
            notes=notes,
            direction=direction,
        )

    def mermaid_image(
        self, infer_name: bool = True, **kwargs: typing_extensions.Unpack[mermaid.MermaidConfig]
    ) -> bytes:
        """The graph as an image from the mermaid.ink service (a network request; needs httpx).

        Options as `mermaid.MermaidConfig`; the title defaults to the graph's name.
        For pictures without the network, `graphc diagram --format svg|png` uses a local Graphviz.
        """
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        if "title" not in kwargs and self.name:
            kwargs["title"] = self.name
        return mermaid.request_image(self, **kwargs)

    def mermaid_save(
        self, path: Path | str, /, *, infer_name: bool = True, **kwargs: typing_extensions.Unpack[mermaid.MermaidConfig]
    ) -> None:
        """`mermaid_image`, saved to `path` (the image type follows its suffix unless given)."""
        if infer_name and self.name is None:
            self._infer_name(inspect.currentframe())
        if "title" not in kwargs and self.name:
            kwargs["title"] = self.name
        mermaid.save_image(path, self, **kwargs)

    def _default_start_node(self) -> BaseNode[StateT, DepsT, Any]:
        if self.start_node is None:
            raise GraphRuntimeError("No start node was given and the graph declares no default start node.")
        try:
            return self.start_node()
        except TypeError as e:
            raise GraphRuntimeError(
                f"The default start node `{self.start_node.get_id()}` cannot be created without arguments ({e}); "
                "pass a start node."
            ) from e

    def _fresh_state(self) -> StateT:
        assert self.default_state is not None
        try:
            return self.default_state()
        except TypeError as e:
            name = getattr(self.default_state, "__name__", repr(self.default_state))
            raise GraphRuntimeError(
                f"The graph's state `{name}` cannot be created without arguments ({e}); pass `state=`."
            ) from e

    def _get_state_type(self) -> type[StateT]:
        if not isinstance(self._state_type, _Unset):
            return self._state_type
        for args in self._base_node_args():
            if args:
                return cast("type[StateT]", args[0])
        return cast("type[StateT]", type(None))

    def _get_run_end_type(self) -> type[RunEndT]:
        if not isinstance(self._run_end_type, _Unset):
            return self._run_end_type
        for args in self._base_node_args():
            if len(args) == 3 and args[2] is not typing_extensions.Never and args[2] is not typing_extensions.NoReturn:
                return cast("type[RunEndT]", args[2])
        raise GraphSetupError("Could not infer run end type from nodes, please set `run_end_type`.")

    def _base_node_args(self) -> list[tuple[Any, ...]]:
        """The generic arguments each node passed to `BaseNode`, in node order."""
        found = []
        for node_def in self.node_defs.values():
            for base in typing_extensions.get_original_bases(node_def.node):
                if typing_extensions.get_origin(base) is BaseNode:
                    found.append(typing_extensions.get_args(base))
                    break
        return found

    def _validate_edges(self) -> None:
        bad_edges: dict[str, list[str]] = {}
        for node_id, node_def in self.node_defs.items():
            for edge in node_def.next_node_edges:
                if edge not in self.node_defs:
                    bad_edges.setdefault(edge, []).append(f"`{node_id}`")
        if not bad_edges:
            return
        problems = [f"`{k}` is referenced by {_comma_and(v)}" for k, v in bad_edges.items()]
        if len(problems) == 1:
            raise GraphSetupError(f"{problems[0]} but not included in the graph.")
        listing = "\n".join(f" {p}" for p in problems)
        raise GraphSetupError(f"Nodes are referenced in the graph but not included in the graph:\n{listing}")

    def _infer_name(self, function_frame: types.FrameType | None) -> None:
        """Name the graph after the variable holding it in the caller's frame."""
        if function_frame is None or (parent_frame := function_frame.f_back) is None:
            return
        for name, item in parent_frame.f_locals.items():
            if item is self:
                self.name = name
                return
        if parent_frame.f_locals is not parent_frame.f_globals:
            for name, item in parent_frame.f_globals.items():
                if item is self:
                    self.name = name
                    return


class GraphRun(Generic[StateT, DepsT, RunEndT]):
    """A run of a graph in progress, from `Graph.iter`.

    `async for node in run` runs nodes until `End` (yielding each returned node);
    `await run.next(node)` runs one node at a time.
    """

    __slots__ = (
        "_copy_state",
        "_ctx",
        "_next_node",
        "_pack_state",
        "deps",
        "graph",
        "history",
        "history_limit",
        "max_steps",
        "state",
        "steps",
    )

    def __init__(
        self,
        graph: Graph[StateT, DepsT, RunEndT],
        start_node: BaseNode[StateT, DepsT, RunEndT],
        *,
        history: list[HistoryStep[StateT, RunEndT]],
        state: StateT,
        deps: DepsT,
        max_steps: int | None = None,
        history_limit: int | None = None,
    ) -> None:
        """Create a run of `graph` starting at `start_node`; normally made by `Graph.iter`.

        Args:
            graph: The graph to run.
            start_node: The node where execution will begin.
            history: The history so far; steps are appended to it.
            state: The state shared by all nodes via `ctx.state`.
            deps: The dependencies available to nodes via `ctx.deps`.
            max_steps: Stop with `GraphRuntimeError` after running this many nodes.
            history_limit: Keep only the last N steps of history (0: none); default: all.
        """
        if history_limit is not None and history_limit < 0:
            raise ValueError("history_limit must be 0 or more")
        self.graph = graph
        self.history_limit = history_limit
        self.history = history
        self.state = state
        self.deps = deps
        self.max_steps = max_steps
        self.steps = 0
        self._ctx = GraphRunContext(state, deps)
        self._copy_state, self._pack_state = self._state_copier()
        self._next_node: BaseNode[StateT, DepsT, RunEndT] | End[RunEndT] = start_node

    def _state_copier(self) -> tuple[Callable[[StateT], StateT], StatePacker | None]:
        """The graph's `snapshot_state` (the default made for the class of this run's state) and its `state_packer`.

        The packer is None unless the snapshot is the default and the state a plain dataclass.
        """
        snapshot = self.graph.snapshot_state
        if snapshot is not deep_copy_state:
            return snapshot, None
        return state_copier(type(self.state)), state_packer(type(self.state))

    @property
    def next_node(self) -> BaseNode[StateT, DepsT, RunEndT] | End[RunEndT]:
        """The node that runs next if none is passed to `next`."""
        return self._next_node

    @property
    def result(self) -> GraphRunResult[StateT, RunEndT] | None:
        """The result once a node has returned `End`, otherwise `None`."""
        if not isinstance(self._next_node, End):
            return None
        return GraphRunResult(self._next_node.data, state=self.state, history=self.history)

    async def next(
        self: GraphRun[StateT, DepsT, T], node: BaseNode[StateT, DepsT, T] | None = None
    ) -> BaseNode[StateT, DepsT, T] | End[T]:
        """Run `node` (default: `next_node`) and return the node it returned.

        Args:
            node: The node to run; defaults to `next_node`.
        """
        if node is None:
            if isinstance(self._next_node, End):
                raise GraphRuntimeError("This graph run has already ended.")
            node = self._next_node
        return await self._advance(node)

    async def _advance(
        self,
        node: BaseNode[StateT, DepsT, RunEndT],
        *,
        to_end: bool = False,
        defer_forks: bool = False,
        timers: bool = True,
    ) -> BaseNode[StateT, DepsT, Any] | End[RunEndT]:
        """Run one node and record it, or (`to_end`) every node until `End`.

        The one step behind `next`, `async for`, `Graph.run` and `Graph.next`; a whole run
        is one call (a coroutine per step cost a tenth of a step). A node that forks runs its
        sub-graphs in the same step, so one `next` goes from the node to its join (returned);
        `defer_forks` returns the `Fork` itself instead, for a durable run to run each branch
        as a workflow of its own. Without `timers`, the caller has seen to a node's sleep and
        its wait's deadline (a durable run parks for them; `answer_within` times the wait).
        """
        graph = self.graph
        node_classes = graph._node_classes
        history, limit, max_steps = self.history, self.history_limit, self.max_steps
        recording = limit != 0  # history_limit=0: no history, so no timestamps and no snapshots
        snapshot, copy_state, pack_state = graph.snapshot_state, self._copy_state, self._pack_state
        custom_snapshot = snapshot is not deep_copy_state
        watched = observe.observers
        ctx = self._ctx
        if ctx.state is not self.state or ctx.deps is not self.deps:  # reassigned between `next` calls
            ctx = self._ctx = GraphRunContext(self.state, self.deps)
            copy_state, pack_state = self._copy_state, self._pack_state = self._state_copier()
        while True:
            if max_steps is not None and self.steps >= max_steps:
                raise GraphRuntimeError(
                    f"The graph run exceeded max_steps={max_steps} before reaching `End`; next node: `{node.get_id()}`."
                )
            if not node_classes.get(type(node)):  # one look-up for the common case: a node of the graph, run at once
                if type(node) not in node_classes:
                    if isinstance(node, End):
                        raise GraphRuntimeError(f"Cannot call `next` with an `End` node: {node!r}.")
                    if node.get_id() not in graph.node_defs:
                        raise GraphRuntimeError(f"Node `{node}` is not in the graph.")
                if timers and node.sleep_policy is not None:
                    await _sleep_before(node, ctx)
                if node.waits_for and (unset := unset_waits(node)):
                    if node.answer_deadline is None:
                        raise GraphRuntimeError(waiting_message(node, unset))
                    if timers:  # nobody answers a plain run: the wait lasts until its deadline, then takes its edge
                        await _wait_out(node.answer_deadline.seconds)
            self.steps += 1
            if recording:
                start_ns = time_ns()
                start = perf_counter()
            try:
                if watched:
                    with ExitStack() as spans:
                        for observer in watched:
                            spans.enter_context(observer.node(graph, node))
                        next_node = await node.run(ctx)
                else:
                    next_node = await node.run(ctx)
            except Exception as error:
                note_node_error(error, node)  # the spec line, when the node was compiled from a spec
                raise
            known = type(next_node) in node_classes
            if recording:
                duration = perf_counter() - start
                step = _new(NodeStep)  # its fields set here, not by keyword: the hot path (test_history_steps_as_built)
                if pack_state is not None and (values := pack_state[0](ctx.state)) is not None:
                    step._packed, step._unpack = values, pack_state[1]  # type: ignore[misc]  # base slots; copied when read
                else:
                    step.state = copy_state(ctx.state)
                step.node = node
                step._ns = start_ns  # type: ignore[misc]  # `start_ts`: made when read
                step.duration = duration
                if custom_snapshot:  # `kind` and the others left at their defaults stay unset
                    step.snapshot_state = snapshot
                if node.failed_attempts is not None:  # None (the class's) unless a retry failed
                    step.retries = node.failed_attempts
                    del node.failed_attempts
                history.append(step)
                ended = False
                if not known and isinstance(next_node, End):
                    history.append(EndStep(result=next_node))
                    ended = True
                if limit is not None and (ended or len(history) > 2 * limit):
                    del history[: max(0, len(history) - limit)]  # in batches while running: amortised O(1) a step
            if not known and isinstance(next_node, Fork):
                if defer_forks:
                    return next_node  # type: ignore[return-value]  # the durable run's own business
                next_node = await self._join(node, next_node, recording)
                known = type(next_node) in node_classes
            if TYPE_CHECKING:  # what follows sees a node or `End`: the fork ran (no check at run time)
                assert not isinstance(next_node, Fork)
            if not known and not isinstance(next_node, (End, BaseNode)):  # `known` first: no `isinstance` on an ABC
                raise GraphRuntimeError(
                    f"Invalid node return type: `{type(next_node).__name__}`. Expected `BaseNode` or `End`."
                )
            self._next_node = next_node
            if not to_end or (not known and isinstance(next_node, End)):  # a class of the graph is no `End`
                return next_node
            if TYPE_CHECKING:
                assert not isinstance(next_node, End)
            node = next_node

    async def _join(
        self, node: BaseNode[StateT, DepsT, RunEndT], fork: Fork[Any], recording: bool
    ) -> BaseNode[StateT, DepsT, Any] | End[RunEndT]:
        """Run a fork's sub-graphs and record them (and the end, when the join is `End`)."""
        try:
            joined, step = await run_fork(fork, self.deps)
        except Exception as error:
            if fork.origin is not None:
                note_spec_line(error, node, *fork.origin)
            raise
        if recording:
            self.history.append(step)
            if isinstance(joined, End):
                self.history.append(EndStep(result=joined))
        return joined  # type: ignore[no-any-return]

    async def _run_to_end(self) -> None:
        """`async for _ in self: pass`, without the iterator protocol: `Graph.run`'s loop."""
        if not isinstance(self._next_node, End):
            await self._advance(self._next_node, to_end=True)

    def __aiter__(self) -> AsyncIterator[BaseNode[StateT, DepsT, RunEndT] | End[RunEndT]]:
        return self

    async def __anext__(self) -> BaseNode[StateT, DepsT, RunEndT] | End[RunEndT]:
        """Run the last returned node and return what it returned."""
        if isinstance(self._next_node, End):
            raise StopAsyncIteration
        return await self._advance(self._next_node)

    def __repr__(self) -> str:
        return f"<GraphRun name={self.graph.name or '<unnamed>'} step={len(self.history) + 1}>"


@dataclass
class GraphRunResult(Generic[StateT, RunEndT]):
    """The final result of running a graph."""

    output: RunEndT
    state: StateT
    history: list[HistoryStep[StateT, RunEndT]] = field(repr=False)


def _run_coroutine_sync(make: Callable[[], Coroutine[Any, Any, _R]]) -> _R:
    """Run a coroutine to completion, on a worker thread if this thread's loop is busy."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    outcome: list[_R] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            outcome.append(asyncio.run(make()))
        except BaseException as e:  # re-raised in the calling thread
            failure.append(e)

    thread = threading.Thread(target=worker, name="graphc-run-sync")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _parent_namespace(frame: types.FrameType | None) -> dict[str, Any] | None:
    """The locals of the frame that created the graph, skipping `typing`'s generic-alias frame."""
    if frame is None or (back := frame.f_back) is None:
        return None
    if back.f_globals.get("__name__") == "typing":
        return _parent_namespace(back)
    return back.f_locals


async def _sleep_before(node: BaseNode[Any, Any, Any], ctx: GraphRunContext[Any, Any]) -> None:
    """A node's `sleep`, on the clock in use (`runtime.clock`)."""
    await clock.current().sleep_until(due_time(node, ctx, clock.current().now()))


async def _wait_out(seconds: float) -> None:
    await clock.current().sleep_until(clock.current().now() + timedelta(seconds=seconds))


def waiting_message(node: BaseNode[Any, Any, Any], unset: list[str]) -> str:
    """Why a run cannot go on at a node that waits for a value from outside the graph, and what to do."""
    fields = " and ".join(", ".join(f"`{name}`" for name in unset).rsplit(", ", 1))
    return (
        f"Node `{node.get_id()}` waits for {fields} from outside the graph. Drive the run with "
        f"`async with graph.iter(...) as run`, set the field{'s' if len(unset) > 1 else ''} on the node "
        f"(`node.{unset[0]} = ...`) and pass it to `run.next(node)`; or run the graph durably "
        "(`graphc run --durable`) and supply the value with `graphc runs resume RUN --input JSON`."
    )


def _comma_and(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]
