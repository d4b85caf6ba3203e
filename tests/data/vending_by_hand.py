"""The vending machine of examples/vending.graph, written by hand in pydantic_graph style."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from runtime import BaseNode, Edge, End, Graph, GraphRunContext

PRICES = {"water": 1.25, "soda": 1.50, "crisps": 1.75, "chocolate": 2.00}


@dataclass
class MachineState:
    user_balance: float = 0.0
    product: str | None = None


@dataclass
class InsertCoin(BaseNode[MachineState]):
    """Ask for coins."""

    docstring_notes = True

    async def run(self, ctx: GraphRunContext[MachineState]) -> CoinsInserted:
        return CoinsInserted(float(input("Insert coins: ")))


@dataclass
class CoinsInserted(BaseNode[MachineState]):
    amount: float

    async def run(self, ctx: GraphRunContext[MachineState]) -> Purchase | SelectProduct:
        ctx.state.user_balance += self.amount
        if ctx.state.product is not None:
            return Purchase(ctx.state.product)
        return SelectProduct()


@dataclass
class SelectProduct(BaseNode[MachineState]):
    async def run(self, ctx: GraphRunContext[MachineState]) -> Purchase:
        return Purchase(input("Select product: "))


@dataclass
class Purchase(BaseNode[MachineState, None, None]):
    product: str

    async def run(
        self, ctx: GraphRunContext[MachineState]
    ) -> (
        Annotated[SelectProduct, Edge(label="no such product")]
        | Annotated[End[None], Edge(label="bought")]
        | Annotated[InsertCoin, Edge(label="not enough")]
    ):
        price = PRICES.get(self.product)
        if price is None:
            return SelectProduct()
        if ctx.state.user_balance >= price:
            ctx.state.user_balance -= price
            return End(None)
        return InsertCoin()


vending_machine = Graph(nodes=[InsertCoin, CoinsInserted, SelectProduct, Purchase], name="VendingMachine")
