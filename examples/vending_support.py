"""Prices and input for the vending machine example; answers can be scripted for tests."""

from __future__ import annotations

PRODUCT_PRICES: dict[str, float] = {"water": 1.25, "soda": 1.50, "crisps": 1.75, "chocolate": 2.00}

SCRIPT: list[str] | None = None
"""Set to a list of answers to replay them instead of reading standard input."""


def ask(question: str) -> str:
    """Ask the user; reads a line from standard input unless `SCRIPT` is set."""
    if SCRIPT is not None:
        answer = SCRIPT.pop(0)
        print(f"{question}: {answer}")
        return answer
    return input(f"{question}: ")
