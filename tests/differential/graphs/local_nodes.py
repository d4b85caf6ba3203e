"""Nodes defined inside a function; annotations resolve in the function's namespace."""

from __future__ import annotations

from dataclasses import dataclass

from GRAPHLIB import BaseNode, End, Graph, GraphRunContext


def build() -> Graph:
    @dataclass
    class Ping(BaseNode[list, None, int]):
        n: int

        async def run(self, ctx: GraphRunContext[list]) -> Pong | End[int]:
            ctx.state.append(f"ping {self.n}")
            return End(self.n) if self.n >= 3 else Pong(self.n + 1)

    @dataclass
    class Pong(BaseNode[list, None, int]):
        n: int

        async def run(self, ctx: GraphRunContext[list]) -> Ping:
            ctx.state.append(f"pong {self.n}")
            return Ping(self.n)

    ping_pong = Graph(nodes=[Ping, Pong])
    return ping_pong


graph = build()
_Ping = graph.node_defs["Ping"].node

SCENARIOS = {"ping": lambda: (_Ping(0), [], None)}
MERMAID = [{"start_node": "Ping", "title": "ping pong"}]
