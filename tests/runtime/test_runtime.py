"""Behaviour of `runtime` beyond what the differential tests compare with pydantic_graph."""

from __future__ import annotations

import asyncio
import copy
import pickle
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import pytest

from runtime import (
    BaseNode,
    Edge,
    End,
    Graph,
    GraphRunContext,
    GraphRuntimeError,
    GraphSetupError,
    NodeStep,
    deep_copy_state,
    load_graph,
)


@dataclass
class Counter:
    value: int = 0
    trail: list[str] = field(default_factory=list)


@dataclass
class Tick(BaseNode[Counter, None, int]):
    """Count one up."""

    limit: int = 3

    async def run(self, ctx: GraphRunContext[Counter]) -> Annotated[Tick, Edge(label="again")] | End[int]:
        ctx.state.value += 1
        ctx.state.trail.append("tick")
        if ctx.state.value >= self.limit:
            return End(ctx.state.value)
        return Tick(self.limit)


ticker = Graph(nodes=[Tick], start_node=Tick)


def test_edge_is_hashable_so_labelled_unions_build() -> None:
    assert hash(Edge("a")) == hash(Edge("a"))
    assert ticker.node_defs["Tick"].next_node_edges == {"Tick": Edge("again")}


def test_default_start_node_is_used_when_none_is_passed() -> None:
    result = ticker.run_sync(state=Counter())
    assert result.output == 3
    assert [step.kind for step in result.history] == ["node", "node", "node", "end"]


def test_default_start_node_needing_arguments_is_a_clear_error() -> None:
    @dataclass
    class Needs(BaseNode[None, None, int]):
        x: int

        async def run(self, ctx: GraphRunContext) -> End[int]:
            return End(self.x)

    graph = Graph(nodes=[Needs], start_node=Needs)
    with pytest.raises(GraphRuntimeError, match="cannot be created without arguments"):
        graph.run_sync()
    with pytest.raises(GraphRuntimeError, match="declares no default start node"):
        Graph(nodes=[Needs]).run_sync()


def test_start_node_must_belong_to_the_graph() -> None:
    class Other(BaseNode):
        async def run(self, ctx: GraphRunContext) -> End[None]:
            return End(None)

    with pytest.raises(GraphSetupError, match="Start node `Other` is not in the graph"):
        Graph(nodes=[Tick], start_node=Other)


def test_run_sync_works_inside_a_running_event_loop() -> None:
    async def main() -> int:
        return ticker.run_sync(Tick(5), state=Counter()).output

    assert asyncio.run(main()) == 5


def test_run_sync_propagates_errors_from_the_worker_thread() -> None:
    async def main() -> None:
        ticker.run_sync(Tick(5), state=Counter(), max_steps=2)

    with pytest.raises(GraphRuntimeError, match="max_steps=2"):
        asyncio.run(main())


def test_max_steps_stops_a_runaway_loop_and_keeps_history() -> None:
    async def main() -> list[object]:
        async with ticker.iter(Tick(1000), state=Counter(), max_steps=10) as run:
            with pytest.raises(GraphRuntimeError, match="exceeded max_steps=10"):
                async for _ in run:
                    pass
            return list(run.history)

    history = asyncio.run(main())
    assert len(history) == 10


def test_iter_infers_the_graph_name_from_the_caller() -> None:
    my_ticker = Graph(nodes=[Tick])

    async def main() -> None:
        async with my_ticker.iter(Tick(), state=Counter()) as run:
            assert "my_ticker" in repr(run)

    asyncio.run(main())
    assert my_ticker.name == "my_ticker"


def test_history_snapshots_are_independent_of_the_live_state() -> None:
    state = Counter()
    result = ticker.run_sync(Tick(2), state=state)
    first = result.history[0]
    assert isinstance(first, NodeStep)
    assert first.state == Counter(1, ["tick"])
    assert state == Counter(2, ["tick", "tick"])
    assert first.state.trail is not state.trail


def test_deep_copy_state_matches_deepcopy_including_shared_references() -> None:
    inner = Counter(1, ["a"])

    @dataclass
    class Holder:
        left: Counter
        right: Counter
        data: dict[str, tuple[int, ...]]

    holder = Holder(inner, inner, {"k": (1, 2)})
    snapshot = deep_copy_state(holder)
    assert snapshot == copy.deepcopy(holder)
    assert snapshot.left is snapshot.right  # deepcopy keeps aliasing
    assert snapshot.left is not inner
    plain = Counter(3, ["x"])
    fast = deep_copy_state(plain)
    assert fast == plain and fast.trail is not plain.trail
    assert deep_copy_state(None) is None


@pytest.mark.parametrize("nested", [False, True])
def test_deep_copy_state_copies_entries_that_share_a_name_with_a_property(nested: bool) -> None:
    @dataclass
    class Flagged:
        count: int = 0

        @property
        def shadow(self) -> str:
            return "from the property"

    flagged = Flagged(1)
    flagged.__dict__["shadow"] = "from the instance"  # assigning would hit the read-only property
    state: Any = [flagged] if nested else flagged
    snapshot = deep_copy_state(state)
    copied = snapshot[0] if nested else snapshot
    assert copied.__dict__ == {"count": 1, "shadow": "from the instance"} == copy.deepcopy(flagged).__dict__
    assert copied is not flagged


def test_deep_copy_state_of_flat_dataclasses_equals_deepcopy_without_running_their_code() -> None:
    calls: list[str] = []

    @dataclass
    class OwnInit:
        count: int = 0

        def __init__(self, count: int = 0) -> None:
            calls.append("init")
            self.count = count

    @dataclass
    class PostInit:
        count: int = 0

        def __post_init__(self) -> None:
            calls.append("post_init")

    @dataclass
    class KeywordOnly:
        count: int = 0
        name: str = field(default="n", kw_only=True)

    states: list[Any] = [OwnInit(1), PostInit(2), KeywordOnly(3, name="x"), KeywordOnly(4, name=[1])]  # type: ignore[arg-type]
    extra = KeywordOnly(5)
    extra.note = "not a field"  # type: ignore[attr-defined]
    states.append(extra)
    calls.clear()
    for state in states:
        for _ in range(2):  # the second time through the copier made for the class
            snapshot = deep_copy_state(state)
            assert type(snapshot) is type(state) and snapshot is not state
            assert snapshot.__dict__ == copy.deepcopy(state).__dict__
    assert calls == []
    assert deep_copy_state(states[3]).name is not states[3].name  # a list field is copied, not shared


def test_deep_copy_state_keeps_slot_values_of_a_base_class() -> None:
    class Slotted:
        __slots__ = ("token",)

    @dataclass
    class Session(Slotted):
        user: str = "ann"

    session = Session()
    session.token = "secret"
    snapshot = deep_copy_state(session)
    assert snapshot.token == "secret" == copy.deepcopy(session).token
    assert snapshot == session and snapshot is not session


def test_dump_and_load_history_round_trip() -> None:
    result = ticker.run_sync(Tick(2), state=Counter())
    loaded = ticker.load_history(ticker.dump_history(result.history))
    assert [getattr(step, "node", None) for step in loaded] == [Tick(2), Tick(2), None]
    assert ticker.dump_history(loaded) == ticker.dump_history(result.history)


def test_load_graph_imports_a_module_from_a_path(tmp_path: Path) -> None:
    module = tmp_path / "flow_graph.py"
    module.write_text(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "from runtime import BaseNode, End, Graph, GraphRunContext\n\n"
        "@dataclass\n"
        "class Only(BaseNode[None, None, str]):\n"
        "    async def run(self, ctx: GraphRunContext) -> End[str]:\n"
        "        return End('done')\n\n"
        "graph = Graph(nodes=[Only], start_node=Only)\n"
    )
    assert load_graph(module).run_sync().output == "done"
    with pytest.raises(FileNotFoundError):
        load_graph(tmp_path / "missing.py")


def test_concurrent_runs_keep_their_states_apart() -> None:
    async def main() -> list[int]:
        runs = [ticker.run(Tick(limit), state=Counter()) for limit in range(1, 200)]
        return [result.output for result in await asyncio.gather(*runs)]

    assert asyncio.run(main()) == list(range(1, 200))


def test_history_limit_keeps_the_last_steps() -> None:
    def steps(history: list[Any]) -> list[tuple[str, Any]]:
        return [(s.kind, s.state.value if s.kind == "node" else s.result.data) for s in history]

    full = ticker.run_sync(Tick(50), state=Counter())
    bounded = ticker.run_sync(Tick(50), state=Counter(), history_limit=5)
    assert full.output == bounded.output == 50
    assert len(full.history) == 51
    assert (
        steps(bounded.history)
        == steps(full.history[-5:])
        == [("node", 47), ("node", 48), ("node", 49), ("node", 50), ("end", 50)]
    )
    assert ticker.run_sync(Tick(50), state=Counter(), history_limit=0).history == []


def test_history_limit_bounds_what_a_run_holds_while_it_runs() -> None:
    async def main() -> int:
        most = 0
        async with ticker.iter(Tick(1000), state=Counter(), history_limit=10) as run:
            async for _ in run:
                most = max(most, len(run.history))
        assert run.result is not None and run.result.output == 1000 and len(run.result.history) == 10
        return most

    assert asyncio.run(main()) <= 20  # trimmed in batches: at most twice the limit
    with pytest.raises(ValueError, match="history_limit"):
        ticker.run_sync(Tick(3), state=Counter(), history_limit=-1)


def test_history_steps_as_built() -> None:
    """The runtime fills a step's fields itself (not through `__init__`): they are the ones it would set."""
    result = ticker.run_sync(Tick(2), state=Counter())
    step = result.history[0]
    assert isinstance(step, NodeStep)
    made = NodeStep(state=Counter(), node=Tick(2), duration=step.duration)
    assert {name: type(getattr(step, name)) for name in NodeStep.__dataclass_fields__} == {
        name: type(getattr(made, name)) for name in NodeStep.__dataclass_fields__
    }
    assert (step.kind, step.snapshot_state, step.node, step.state) == (
        "node",
        deep_copy_state,
        Tick(2),
        Counter(1, ["tick"]),
    )
    marked = Graph(nodes=[Tick], snapshot_state=lambda state: Counter(-state.value))
    assert [s.state.value for s in marked.run_sync(Tick(2), state=Counter()).history[:2]] == [-1, -2]


@dataclass
class _Flat:
    value: int = 0


@dataclass
class _AlsoFlat:
    value: int = 0


@dataclass
class _Step(BaseNode[Any, None, int]):
    async def run(self, ctx: GraphRunContext[Any]) -> _Step | End[int]:
        ctx.state.value += 1
        return End(ctx.state.value) if ctx.state.value >= 3 else _Step()


def test_a_flat_state_snapshot_built_when_read_is_the_state_at_its_step() -> None:
    """History keeps a flat state's values and the start time's nanoseconds; what it builds from them on reading
    is what a copy and `datetime.now` at the step would have been, built once, pickled and compared as any step."""
    before = datetime.now(tz=timezone.utc)
    result = Graph(nodes=[_Step]).run_sync(_Step(), state=_Flat())
    after = datetime.now(tz=timezone.utc)
    steps = [step for step in result.history if isinstance(step, NodeStep)]
    first = steps[0]
    assert first.state == _Flat(1) and first.state is first.state
    first.state.value = 10  # a snapshot read once is that object from then on
    assert first.state == _Flat(10)
    assert [step.state for step in steps[1:]] == [_Flat(2), _Flat(3)]
    stamps = [step.start_ts for step in steps]
    assert all(stamp.tzinfo is timezone.utc and before.replace(microsecond=0) <= stamp <= after for stamp in stamps)
    assert stamps == sorted(stamps) and stamps[0] is first.start_ts
    fresh = Graph(nodes=[_Step]).run_sync(_Step(), state=_Flat()).history[1]
    assert isinstance(fresh, NodeStep)
    made = NodeStep(state=_Flat(2), node=_Step(), start_ts=fresh.start_ts, duration=fresh.duration)
    assert pickle.loads(pickle.dumps(fresh)) == copy.deepcopy(fresh) == made == fresh
    with pytest.raises(AttributeError, match="'NodeStep' object has no attribute 'stat'"):
        _ = fresh.stat  # type: ignore[attr-defined]


def test_threads_reading_a_step_first_at_once_get_one_copy() -> None:
    """A snapshot is built once: threads that read a step's state and start time together all get those objects."""

    @dataclass
    class Count(BaseNode[Any, None, int]):
        async def run(self, ctx: GraphRunContext[Any]) -> Count | End[int]:
            ctx.state.value += 1
            return End(0) if ctx.state.value >= 300 else Count()

    steps = [s for s in Graph(nodes=[Count]).run_sync(Count(), state=_Flat()).history if isinstance(s, NodeStep)]
    barrier = threading.Barrier(4)

    def read() -> list[tuple[int, int]]:
        barrier.wait()
        return [(id(step.state), id(step.start_ts)) for step in steps]

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change places as often as they can
    try:
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(lambda _: read(), range(4)))
    finally:
        sys.setswitchinterval(switching)
    assert seen[0] == seen[1] == seen[2] == seen[3]
    assert [step.state.value for step in steps] == list(range(1, 301))


def test_a_state_that_stops_being_flat_is_copied_whole() -> None:
    """A flat class's state given a list, or an attribute beyond its fields, is deep-copied at its step."""

    @dataclass
    class Grow(BaseNode[Any, None, int]):
        turn: int = 1

        async def run(self, ctx: GraphRunContext[Any]) -> Grow | End[int]:
            ctx.state.value = [2] if self.turn == 2 else self.turn
            if self.turn == 3:
                ctx.state.extra = "x"
                return End(0)
            return Grow(self.turn + 1)

    history = Graph(nodes=[Grow]).run_sync(Grow(), state=_Flat()).history
    states = [step.state for step in history if isinstance(step, NodeStep)]
    assert [vars(state) for state in states] == [{"value": 1}, {"value": [2]}, {"value": 3, "extra": "x"}]


def test_a_state_replaced_during_a_run_is_snapshot_by_its_own_class() -> None:
    async def drive() -> list[Any]:
        async with Graph(nodes=[_Step]).iter(_Step(), state=_Flat()) as run:
            await run.next()
            run.state = _AlsoFlat(value=1)
            await run.next()
            return [step.state for step in run.history]

    assert asyncio.run(drive()) == [_Flat(1), _AlsoFlat(2)]
