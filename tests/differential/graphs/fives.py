"""pydantic_graph's divisible-by-five example: no state, node fields."""

from __future__ import annotations

from dataclasses import dataclass

from GRAPHLIB import BaseNode, End, Graph, GraphRunContext


@dataclass
class DivisibleBy5(BaseNode[None, None, int]):
    foo: int

    async def run(self, ctx: GraphRunContext) -> Increment | End[int]:
        if self.foo % 5 == 0:
            return End(self.foo)
        else:
            return Increment(self.foo)


@dataclass
class Increment(BaseNode):
    foo: int

    async def run(self, ctx: GraphRunContext) -> DivisibleBy5:
        return DivisibleBy5(self.foo + 1)


fives_graph = Graph(nodes=[DivisibleBy5, Increment])
graph = fives_graph

SCENARIOS = {
    "from_4": lambda: (DivisibleBy5(4), None, None),
    "from_5": lambda: (DivisibleBy5(5), None, None),
    "from_increment": lambda: (Increment(11), None, None),
}
MERMAID = [{}, {"start_node": "DivisibleBy5", "title": False}, {"highlighted_nodes": "Increment"}]
