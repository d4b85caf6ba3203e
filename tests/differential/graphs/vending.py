"""pydantic_graph's vending machine, with scripted input through deps, labels and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from GRAPHLIB import BaseNode, End, Graph, GraphRunContext
from GRAPHLIB import Edge as _Edge


class Edge(_Edge):
    # pydantic_graph 0.0.39's Edge is unhashable, which breaks unions of labelled edges.
    def __hash__(self) -> int:
        return hash(self.label)


@dataclass
class MachineState:
    user_balance: float = 0.0
    product: str | None = None


@dataclass
class Script:
    answers: list[str] = field(default_factory=list)

    def ask(self, question: str) -> str:
        return self.answers.pop(0)


PRODUCT_PRICES = {"water": 1.25, "soda": 1.50, "crisps": 1.75, "chocolate": 2.00}


@dataclass
class InsertCoin(BaseNode[MachineState, Script]):
    """Ask for coins."""

    docstring_notes = True

    async def run(self, ctx: GraphRunContext[MachineState, Script]) -> CoinsInserted:
        return CoinsInserted(float(ctx.deps.ask("Insert coins")))


@dataclass
class CoinsInserted(BaseNode[MachineState, Script]):
    amount: float

    async def run(self, ctx: GraphRunContext[MachineState, Script]) -> SelectProduct | Purchase:
        ctx.state.user_balance += self.amount
        if ctx.state.product is not None:
            return Purchase(ctx.state.product)
        else:
            return SelectProduct()


@dataclass
class SelectProduct(BaseNode[MachineState, Script]):
    async def run(self, ctx: GraphRunContext[MachineState, Script]) -> Purchase:
        return Purchase(ctx.deps.ask("Select product"))


@dataclass
class Purchase(BaseNode[MachineState, Script, None]):
    """Buy the product if there is enough money.

    Otherwise ask for more.
    """

    docstring_notes = True
    product: str

    async def run(
        self, ctx: GraphRunContext[MachineState, Script]
    ) -> (
        Annotated[End[None], Edge(label="bought")]
        | Annotated[InsertCoin, Edge(label="not enough")]
        | Annotated[SelectProduct, Edge(label="no such product")]
    ):
        if price := PRODUCT_PRICES.get(self.product):
            ctx.state.product = self.product
            if ctx.state.user_balance >= price:
                ctx.state.user_balance -= price
                return End(None)
            else:
                return InsertCoin()
        else:
            return SelectProduct()


vending_machine_graph = Graph(nodes=[InsertCoin, CoinsInserted, SelectProduct, Purchase])
graph = vending_machine_graph

SCENARIOS = {
    "crisps": lambda: (InsertCoin(), MachineState(), Script(["2.00", "crisps"])),
    "not_enough_then_more": lambda: (InsertCoin(), MachineState(), Script(["1", "chocolate", "0.5", "0.5"])),
    "unknown_product": lambda: (InsertCoin(), MachineState(), Script(["3", "caviar", "water"])),
    "script_runs_dry": lambda: (InsertCoin(), MachineState(), Script(["1"])),
}
MERMAID = [
    {"start_node": "InsertCoin"},
    {"start_node": "InsertCoin", "edge_labels": False, "notes": False},
    {"highlighted_nodes": ["Purchase", "InsertCoin"], "highlight_css": "fill:#f00", "direction": "BT"},
]
