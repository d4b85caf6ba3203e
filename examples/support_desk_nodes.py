"""A node written by hand in Python, which the support desk spec imports and routes to.

It imports `runtime` (or `pydantic_graph` when GRAPHC_EXAMPLE_TARGET says so, for
the differential tests) and joins the compiled graph like any spec node.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

if TYPE_CHECKING:
    from runtime import BaseNode, Edge, End, GraphRunContext
else:
    _lib = importlib.import_module(os.environ.get("GRAPHC_EXAMPLE_TARGET", "runtime"))
    BaseNode, End, GraphRunContext = _lib.BaseNode, _lib.End, _lib.GraphRunContext

    class Edge(_lib.Edge):  # pydantic_graph 0.0.39's Edge is unhashable
        def __hash__(self) -> int:
            return hash(self.label)


@dataclass
class HumanReview(BaseNode[Any, Any, str]):
    """A person takes the ticket over."""

    docstring_notes = True
    customer: str
    reason: str

    async def run(self, ctx: GraphRunContext[Any, Any]) -> Annotated[End[str], Edge(label="handed over")]:
        ctx.state.log.append(f"human review for {self.customer}")
        return End(f"#{ctx.state.ticket_id} handed to {ctx.deps.team}: {self.reason}")
