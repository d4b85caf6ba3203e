"""Helpers for tests/data/gaps/gaps.graph: a class used as a field default."""

from __future__ import annotations


class Counter:
    """A mutable object: every run must get its own."""

    def __init__(self) -> None:
        self.hits = 0

    def hit(self) -> int:
        self.hits += 1
        return self.hits
