"""Graphs that must fail to build, each as a function returning the error."""

from __future__ import annotations

from dataclasses import dataclass

from GRAPHLIB import BaseNode, End, Graph, GraphRunContext


@dataclass
class NoHint(BaseNode):
    async def run(self, ctx):  # type: ignore[no-untyped-def]
        return End(None)


@dataclass
class BadHint(BaseNode):
    async def run(self, ctx: GraphRunContext) -> int:  # type: ignore[override]
        return 1


@dataclass
class PointsAway(BaseNode):
    async def run(self, ctx: GraphRunContext) -> Missing | End[None]:
        return End(None)


@dataclass
class AlsoPointsAway(BaseNode):
    async def run(self, ctx: GraphRunContext) -> Missing | Elsewhere:
        return Missing()


@dataclass
class Missing(BaseNode):
    async def run(self, ctx: GraphRunContext) -> End[None]:
        return End(None)


@dataclass
class Elsewhere(BaseNode):
    async def run(self, ctx: GraphRunContext) -> End[None]:
        return End(None)


class Twin(BaseNode):
    async def run(self, ctx: GraphRunContext) -> End[None]:
        return End(None)

    @classmethod
    def get_id(cls) -> str:
        return "Missing"


BUILDS = {
    "missing_hint": lambda: Graph(nodes=[NoHint]),
    "bad_hint": lambda: Graph(nodes=[BadHint]),
    "one_missing": lambda: Graph(nodes=[PointsAway]),
    "several_missing": lambda: Graph(nodes=[PointsAway, AlsoPointsAway]),
    "duplicate_id": lambda: Graph(nodes=[Missing, Twin]),
}
