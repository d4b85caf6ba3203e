"""Corner cases: BaseNode returns, rule-breaking returns, nested and aliased state, errors in nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from GRAPHLIB import BaseNode, End, Graph, GraphRunContext


@dataclass
class Inner:
    values: list[int] = field(default_factory=list)
    tags: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class State:
    count: int = 0
    inner: Inner = field(default_factory=Inner)
    seen: set[str] = field(default_factory=set)
    shared: list[Inner] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


@dataclass
class Router(BaseNode[State, None, str]):
    """Routes anywhere: its edges are every node."""

    goal: str

    async def run(self, ctx: GraphRunContext[State]) -> BaseNode[State, None, str]:
        ctx.state.count += 1
        ctx.state.log.append(f"router:{self.goal}")
        if self.goal == "grow":
            return Grow(3)
        if self.goal == "alias":
            return Alias()
        if self.goal == "explode":
            return Explode("boom")
        if self.goal == "bad":
            return BadReturn()
        if self.goal == "stranger":
            return Stranger()
        return Finish()


@dataclass
class Grow(BaseNode[State, None, str]):
    times: int

    async def run(self, ctx: GraphRunContext[State]) -> Union[Grow, Finish]:  # noqa: UP007
        ctx.state.inner.values.append(self.times)
        ctx.state.inner.tags[str(self.times)] = (self.times, self.times * 2)
        ctx.state.seen.add(str(self.times))
        if self.times > 0:
            return Grow(self.times - 1)
        return Finish()


@dataclass
class Alias(BaseNode[State, None, str]):
    async def run(self, ctx: GraphRunContext[State]) -> Finish:
        # the same object twice: deepcopy keeps them one object in the snapshot
        ctx.state.shared = [ctx.state.inner, ctx.state.inner]
        return Finish()


@dataclass
class Explode(BaseNode[State, None, str]):
    reason: str

    async def run(self, ctx: GraphRunContext[State]) -> End[str]:
        ctx.state.count += 100
        raise ValueError(f"exploded: {self.reason}")


@dataclass
class BadReturn(BaseNode[State, None, str]):
    async def run(self, ctx: GraphRunContext[State]) -> End[str]:
        return 42  # type: ignore[return-value]


@dataclass
class Finish(BaseNode[State, None, str]):
    async def run(self, ctx: GraphRunContext[State]) -> End[str]:
        # edges are not enforced at run time: Finish may return Router once
        if ctx.state.count == 1 and "again" not in ctx.state.log:
            ctx.state.log.append("again")
            return Router("done")
        return End(f"count={ctx.state.count} values={ctx.state.inner.values} shared={ctx.state.shared}")


@dataclass
class Stranger(BaseNode[State, None, str]):
    """Not part of the graph."""

    async def run(self, ctx: GraphRunContext[State]) -> End[str]:
        return End("never")


graph = Graph(nodes=[Router, Grow, Alias, Explode, BadReturn, Finish])

SCENARIOS = {
    "grow": lambda: (Router("grow"), State(), None),
    "alias": lambda: (Router("alias"), State(), None),
    "explode": lambda: (Router("explode"), State(), None),
    "bad_return": lambda: (Router("bad"), State(), None),
    "stranger": lambda: (Router("stranger"), State(), None),
    "finish_loops_back": lambda: (Router("plain"), State(), None),
    "start_outside_graph": lambda: (Stranger(), State(), None),
}
MERMAID = [{}, {"start_node": ["Router"], "notes": True}]
